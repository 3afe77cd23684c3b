"""snnc's vectorized, batched CPU simulator (bit-accurate for fixed-point programs)."""
