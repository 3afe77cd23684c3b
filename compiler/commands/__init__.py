"""One module per `snnc` verb (see compiler.cli)."""
