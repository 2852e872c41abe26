"""Classical (analytic and iterative) reconstruction on the exact operators of :mod:`recon.operators`.

* :mod:`.filters` — the ramp filter and its windows (Kak & Slaney ch. 3);
* :mod:`.weights` — scan coverage, angular quadrature and redundancy (Parker) weights;
* :mod:`.filtered_backprojection` — FBP for parallel and fan beam (:func:`fbp`, the :class:`FBP` layer);
* :mod:`.recipe` — one analytic FBP recipe and its grid search (the tuned baselines);
* :mod:`.views` — view interpolation of sparse full scans and view completion of arcs;
* :mod:`.arcs` — arcs of a scan (limited angle, short scan): cutting, end tapers, rotated copies;
* :mod:`.rebinning` — interpolation rebinning fan ↔ parallel;
* :mod:`.iterative` — SIRT and CGLS;
* :mod:`.tv` — TV-regularised reconstruction (Chambolle–Pock primal–dual, preconditioned), λ tuning.
"""
