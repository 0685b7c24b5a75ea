import tomllib
from decimal import Decimal

from remote_buildkit import workload
from remote_buildkit.config import parse_config
from remote_buildkit.layout import builder_layouts

GI = 2**30


def test_gc_policy_scales_with_the_cache() -> None:
    small, large = workload.gc_policy(10 * GI), workload.gc_policy(100 * GI)
    assert (small.reserved, small.max_used, small.min_free) == (1 * GI, 8 * GI, 2 * GI)
    assert (large.reserved, large.max_used, large.min_free) == (10 * GI, 80 * GI, 20 * GI)
    assert small.reserved < small.max_used < 10 * GI


def test_buildkitd_toml_is_valid_toml_with_gc_and_parallelism() -> None:
    config = tomllib.loads(workload.buildkitd_toml(3, workload.gc_policy(50 * GI)))
    oci = config["worker"]["oci"]
    assert oci["gc"] is True
    assert oci["max-parallelism"] == 3
    assert (oci["reservedSpace"], oci["maxUsedSpace"], oci["minFreeSpace"]) == ("5120MiB", "40960MiB", "10240MiB")
    policies = oci["gcpolicy"]
    assert len(policies) == 4
    assert policies[-1]["all"] is True
    assert all(p.get("maxUsedSpace") for p in policies)


def test_max_parallelism_defaults_to_the_cpu_limit_rounded_up() -> None:
    assert workload.default_max_parallelism(Decimal("3.5")) == 4
    assert workload.default_max_parallelism(Decimal("0.5")) == 1
    assert workload.default_max_parallelism(Decimal(2)) == 2


def test_layout_derives_cache_and_parallelism_from_config() -> None:
    config = parse_config(
        {
            "builders": [
                {"name": "a", "platform": "linux/arm64"},
                {"name": "b", "platform": "linux/amd64", "cache": {"size": "100Gi"}, "maxParallelism": 8},
            ]
        }
    )
    ephemeral, persistent = builder_layouts(config)
    assert ephemeral.cache_size == "20Gi"
    assert ephemeral.max_parallelism == 4
    assert persistent.cache_size == "100Gi"
    assert persistent.max_parallelism == 8
    assert tomllib.loads(persistent.buildkitd_toml)["worker"]["oci"]["maxUsedSpace"] == "81920MiB"


def test_drain_waits_for_started_builds_and_is_bounded() -> None:
    script = workload.drain_script(880)
    assert "+ 880" in script
    assert "buildctl debug histories" in script
    assert "STARTED" in script
    assert script.endswith("exit 0")
    assert workload.drain_seconds(900) == 880
    assert workload.drain_seconds(10) == 0


def test_debug_listener_is_on_the_pod_ip() -> None:
    args = workload.buildkitd_args(1234, 6060)
    assert args[args.index("--debugaddr") + 1] == "tcp://$(POD_IP):6060"
    assert "--debugaddr" not in workload.buildkitd_args(1234, None)
    assert workload.scrape_annotations(None) == {}
    assert workload.scrape_annotations(6060)["prometheus.io/port"] == "6060"
