"""The replica axis sharded over 4 simulated CPU devices gives the single-device numbers."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from meanfield.io import config as C

# Two cells differing in a vmapped field (c), 3 replicas each: 6 replicas, padded to 8 on 4 devices.
SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from meanfield.io import config as C
    from meanfield.core import devices
    from meanfield.studies.sweep import simulate_cells
    raw = json.loads(sys.argv[1])
    cfgs = [C.from_dict(C.apply_overrides(raw, [f"system.dynamics.clip={c}"])) for c in (0.5, 1.0)]
    run = simulate_cells(cfgs)
    tr = run.trajectory
    out = {"devices": jax.device_count(),
           # the run's own final particles: on how many devices did the replicas live?
           "shards": len(tr.final_state.crit.sharding.device_set),
           "w2": np.asarray(tr.observables["w2"]).tolist(),
           "gen": np.asarray(tr.snapshots["gen"]).tolist(),
           "critic": np.asarray(tr.final_state.crit).tolist()}
    print("RESULT" + json.dumps(out))
""")

RAW = {"system": {"kind": "wgan", "N": 16, "M": 12,
                  "dynamics": {"lr": 1.0, "batch_size": 4, "clip": 1.0},
                  "numerics": {"n_eval": 64, "quadrature_nodes": 8}},
       "run": {"T": 0.5, "n_records": 3, "snapshot_times": [0.5], "replicas": 3, "seed": 3}}


def _run(n_devices: int) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n_devices}".strip()
    res = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(RAW)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    line = [x for x in res.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


@pytest.mark.slow  # 27 s (two devices forced in a subprocess)
def test_sharded_equals_single_device():
    C.from_dict(RAW)  # the test config is valid
    one, four = _run(1), _run(4)
    assert one["devices"] == 1 and four["devices"] == 4
    assert four["shards"] == 4  # the replica axis really is split over the 4 devices
    for k in ("w2", "gen", "critic"):
        a, b = np.asarray(one[k]), np.asarray(four[k])
        assert a.shape == b.shape and a.shape[0] == 6
        # Each replica runs the same ops on its own device; allow float32 reassociation only.
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    # Replicas of the two cells differ (the test would pass trivially otherwise).
    assert not np.allclose(np.asarray(one["critic"])[0], np.asarray(one["critic"])[3])
