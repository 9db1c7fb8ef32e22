"""Tests for cosmojax.imnn (a package so that test module names cannot clash across folders)."""
