"""Tests for cosmojax.nn (a package so that test module names cannot clash across folders)."""
