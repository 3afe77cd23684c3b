"""Hardware target configs shipped with snnc (one YAML per target); see ir.hardware for the
schema."""
