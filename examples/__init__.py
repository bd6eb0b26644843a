"""Example pipeline configs (``tfpipe run examples/adult.pbtxt``), shipped with the package."""
