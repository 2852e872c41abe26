"""The branch-free arctangent every back-end uses for arc detectors, so that all build the same matrix.

``atan(x) = x · P(x²)`` on ``|x| <= tan(π/8)``: the alternating odd Taylor coefficients ``(-1)^k / (2k + 1)``,
k = 0 … 12, highest first; truncation error < 2e-12 rad. Larger arguments are reduced with
``atan(z) = π/2 − atan(1/z)`` and ``atan(w) = π/4 + atan((w−1)/(w+1))``.
"""

ATAN_COEFFS = tuple((-1.0) ** k / (2 * k + 1) for k in range(12, -1, -1))
TAN_PI_8 = 0.41421356237309503
