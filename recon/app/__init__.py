"""The application on top of the library: the ``recon`` command line, the demo, file workflows and the
bundled real scan."""
