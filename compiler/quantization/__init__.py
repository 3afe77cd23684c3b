"""Helpers of the quantize pass: the target's register formats (`formats`), the comparison of
float and fixed-point activity on calibration data (`calibrate`) and the printed report
(`report`). The pass itself is `compiler.passes.quantize`."""
