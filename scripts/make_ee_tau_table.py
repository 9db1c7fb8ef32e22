"""Build cosmojax/data/ee_tau_table.npz: low-l CMB spectra on a grid of the optical depth tau.

Run once (needs CAMB and scipy, not needed by the package at run time):

    python scripts/make_ee_tau_table.py [--out cosmojax/data/ee_tau_table.npz]

Cosmology: Planck 2018 TT,TE,EE+lowE+lensing best fit (H0 67.32, ombh2 0.022383,
omch2 0.12011, n_s 0.96605, one massive neutrino of 0.06 eV), with A_s e^{-2 tau} held at
1.884e-9 (what the high-l spectra fix) while tau varies; instantaneous-step (tanh)
reionisation as CAMB's default. Spectra are lensed C_l in muK^2 for l = 0..LMAX.
The file also holds d ln C_l^EE / d tau from a cubic spline in tau, for smooth Hermite
interpolation.
"""

from __future__ import annotations

import argparse
import pathlib

import camb
import numpy as np
from scipy.interpolate import CubicSpline

LMAX = 128
TAU = np.round(np.linspace(0.02, 0.12, 41), 6)
AS_EXP_M2TAU = 1.884e-9


def spectra(tau: float) -> np.ndarray:
    pars = camb.set_params(
        H0=67.32,
        ombh2=0.022383,
        omch2=0.12011,
        mnu=0.06,
        omk=0.0,
        tau=tau,
        As=AS_EXP_M2TAU * np.exp(2 * tau),
        ns=0.96605,
        lmax=LMAX + 300,
        lens_potential_accuracy=0,
    )
    res = camb.get_results(pars)
    cl = res.get_cmb_power_spectra(pars, CMB_unit="muK", raw_cl=True)["total"]
    return cl[: LMAX + 1]  # (LMAX + 1, 4): TT, EE, BB, TE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = pathlib.Path(__file__).resolve().parents[1] / "cosmojax" / "data" / "ee_tau_table.npz"
    parser.add_argument("--out", type=pathlib.Path, default=default)
    args = parser.parse_args()
    table = np.stack([spectra(t) for t in TAU])  # (ntau, LMAX + 1, 4)
    cl_ee = table[:, :, 1]
    log_ee = np.log(cl_ee[:, 2:])
    slope = np.zeros_like(cl_ee)
    slope[:, 2:] = CubicSpline(TAU, log_ee, axis=0)(TAU, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        tau=TAU,
        ell=np.arange(LMAX + 1),
        cl_tt=table[:, :, 0],
        cl_ee=cl_ee,
        cl_bb=table[:, :, 2],
        cl_te=table[:, :, 3],
        dlog_cl_ee_dtau=slope,
        as_exp_m2tau=np.float64(AS_EXP_M2TAU),
        camb_version=np.array(camb.__version__),
    )
    print(f"wrote {args.out}: {len(TAU)} tau values, l <= {LMAX}")


if __name__ == "__main__":
    main()
