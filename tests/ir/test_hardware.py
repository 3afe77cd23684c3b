"""Hardware configs: the shipped ones load and cite sources; schema errors name file and key."""

import pytest
import yaml

from ir import ConfigError, builtin_targets, load_hw
from ir.hardware import load_hw_dict


def test_builtin_targets():
    assert builtin_targets() == ["loihi1", "loihi2", "tiny"]


@pytest.mark.parametrize("name", ["loihi1", "loihi2", "tiny"])
def test_every_number_has_a_source(name):
    spec = load_hw(name)
    limits = list(spec.limits())
    assert len(limits) == 25
    assert all(lim.source for lim in limits)


def test_loihi2_marks_unpublished_limits_as_estimates():
    spec = load_hw("loihi2")
    assert spec.core.max_neurons.value == 8192
    assert spec.core.synapse_memory_bits.estimate
    assert not spec.neuron.state_bits.estimate


def test_round_trip_through_to_dict():
    spec = load_hw("loihi2")
    again = load_hw_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict())), "x.yaml")
    assert again.to_dict() == spec.to_dict()


def _write(tmp_path, data) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def _base() -> dict:
    return load_hw("tiny").to_dict()


def test_missing_key(tmp_path):
    data = _base()
    del data["core"]["max_input_axons"]
    with pytest.raises(ConfigError, match=r"bad.yaml: core.max_input_axons: missing key"):
        load_hw(_write(tmp_path, data))


def test_wrong_type(tmp_path):
    data = _base()
    data["core"]["max_neurons"]["value"] = "many"
    with pytest.raises(
        ConfigError, match=r"bad.yaml: core.max_neurons.value: expected an integer, got 'many'"
    ):
        load_hw(_write(tmp_path, data))


def test_negative_limit(tmp_path):
    data = _base()
    data["chip"]["cores_per_chip"]["value"] = -4
    with pytest.raises(
        ConfigError, match=r"chip.cores_per_chip.value: expected a positive integer, got -4"
    ):
        load_hw(_write(tmp_path, data))


def test_missing_source(tmp_path):
    data = _base()
    data["core"]["max_neurons"]["source"] = ""
    with pytest.raises(
        ConfigError, match=r"core.max_neurons.source: every number must say where it comes from"
    ):
        load_hw(_write(tmp_path, data))


def test_missing_section(tmp_path):
    data = _base()
    del data["synapse_memory"]
    with pytest.raises(ConfigError, match=r"bad.yaml: synapse_memory: missing section"):
        load_hw(_write(tmp_path, data))


def test_unknown_key(tmp_path):
    data = _base()
    data["core"]["max_dendrites"] = {"value": 1, "source": "x"}
    with pytest.raises(ConfigError, match=r"core.max_dendrites: unknown key"):
        load_hw(_write(tmp_path, data))


def test_profile_mismatch(tmp_path):
    data = _base()
    data["neuron"]["state_bits"]["value"] = 20
    with pytest.raises(
        ConfigError,
        match=r"neuron.state_bits.value: semantics lava_fixed_pt fixes this at 24, got 20",
    ):
        load_hw(_write(tmp_path, data))


def test_malformed_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line 2"):
        load_hw(_write(tmp_path, "name: x\n  core: [1,\n"))


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got list"):
        load_hw(_write(tmp_path, "- 1\n- 2\n"))


def test_unknown_target_lists_builtins():
    with pytest.raises(
        ConfigError, match="unknown hardware target; built-in targets: loihi1, loihi2, tiny"
    ):
        load_hw("loihi9")


def test_synapse_memory_cost_model():
    sm = load_hw("loihi1").synapse_memory
    # 10 synapses of 8-bit weights: 10 * (8 + 6) + 10 = 150 bits -> 3 words of 64 = 192.
    assert sm.axon_bits(10, 8) == 192
    assert sm.axon_bits(0, 8) == 64
