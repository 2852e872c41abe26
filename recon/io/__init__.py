"""Reading and writing files: safe outputs, TOML configs with geometry tables, readers for real scan files."""

from .atomic import atomic_output, check_writable
from .cone_scan import ConeScan
from .config import angles_from_spec, geometry_from_table, geometry_to_table, load_toml, parse_toml
from .plausibility import ScanWarning
from .preprocess import log_transform, normalize
from .readers import (read_array, read_dxchange, read_htc_mat, read_htc_reference, read_nikon, read_nxtomo,
                      read_scan, read_tiff)
from .scan import Scan, ScanFormatError

__all__ = ["atomic_output", "check_writable", "load_toml", "parse_toml", "angles_from_spec",
           "geometry_from_table", "geometry_to_table",
           "Scan", "ConeScan", "ScanFormatError", "ScanWarning", "read_scan", "read_htc_mat", "read_htc_reference",
           "read_dxchange", "read_nxtomo", "read_tiff", "read_array", "read_nikon", "normalize", "log_transform"]
