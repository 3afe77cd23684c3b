"""Hardware-in-the-loop harness: run one program on two targets and pin the first divergence."""
