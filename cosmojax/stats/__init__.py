"""Summary statistics: power spectra and n-point counts.

Users write ``cosmojax.stats.power_spectrum``; the modules behind are private detail.
"""

from cosmojax.stats.power_spectrum import (
    PowerSpectrum,
    cross_correlation,
    default_kedges,
    power_multipoles,
    power_spectrum,
)

__all__ = ["PowerSpectrum", "default_kedges", "power_spectrum", "power_multipoles", "cross_correlation"]
