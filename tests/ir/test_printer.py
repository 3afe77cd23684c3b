"""The text form is deterministic and shows every value (golden)."""

import numpy as np

from ir import QLIF, Block, Graph, Input, Placement, QDense, print_graph

GOLDEN = """\
graph domain=fixed dt=0.001 inputs=in outputs=h
metadata {"seed":3}
population in: Input shape=(12,) message_bits=0
population h: QLIF shape=(4,) du=4095 dv=0 vth=100 bias_mant=i64[4](0 1 2 3) bias_exp=6 reset_interval=0 reset_offset=0
projection p: in -> h QDense weight=i64[4,12]{min=-24 max=23 nz=47 sha=%s} delay=0 weight_exp=-1 num_weight_bits=8 sign_mode=mixed
placement target=tiny cores=2 chips=1
  block h#0: neurons=[0,2) core=0 chip=0
  block h#1: neurons=[2,4) core=1 chip=0
"""  # noqa: E501 (the printer's lines are as long as the IR makes them)


def test_golden():
    w = np.arange(48).reshape(4, 12) - 24
    graph = Graph(
        populations={
            "in": Input((12,)),
            "h": QLIF((4,), du=4095, vth=100, bias_mant=np.arange(4), bias_exp=6),
        },
        projections={"p": QDense("in", "h", weight=w, weight_exp=-1)},
        placement=Placement(
            (Block.from_range("h", 0, 2, 0), Block.from_range("h", 2, 4, 1)), [0, 0], "tiny"
        ),
        metadata={"seed": 3},
    )
    from ir.printer import array_digest

    assert print_graph(graph) == GOLDEN % array_digest(w)


def test_any_value_change_changes_the_text():
    w = np.zeros((4, 12), dtype=np.int64)
    a = Graph(
        populations={"in": Input((12,)), "h": QLIF((4,))},
        projections={"p": QDense("in", "h", weight=w)},
    )
    w2 = w.copy()
    w2[3, 11] = 2
    b = Graph(
        populations={"in": Input((12,)), "h": QLIF((4,))},
        projections={"p": QDense("in", "h", weight=w2)},
    )
    assert print_graph(a) != print_graph(b)
