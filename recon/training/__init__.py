"""Training known-operator models on simulated datasets (``recon train``)."""
