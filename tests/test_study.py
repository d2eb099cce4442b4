"""study: specs checked before anything starts, the smoke study end to end, resumable and idempotent runs,
diverged and crashed runs, signals and killed workers, one study process per directory, tables, and Ray against the
local executor."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import study.runner as runner
from basicprop.files import folder_lock
from gan_models.checkpoint import read_checkpoint
from study import api, report
from study.spec import load_study

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The shipped smoke study (2 rows x 2 seeds), run once with two worker processes."""
    out = tmp_path_factory.mktemp("smoke")
    lines = []
    result = api.run_study("smoke", out, budget="smoke", jobs=2, log=lines.append)
    return out, result, lines


def _summaries(out):
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}


def _write_spec(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


SPEC = """
name = "t"
seeds = [0]
[[rows]]
name = "line"
preset = "infogan-line"
dataset = "basicprop-line"
"""


@pytest.mark.parametrize("edit, message", [
    (("seeds = [0]", "seeds = []"), "'seeds' must be a non-empty list"),
    (("name = \"line\"", "name = \"line\"\nprest = \"x\""), "rows\\[0\\]: unknown key 'prest'"),
    (("preset = \"infogan-line\"", "preset = \"infogan-lin\""), "unknown preset 'infogan-lin'"),
    (("dataset = \"basicprop-line\"", "dataset = \"basicprop-line\"\noverrides = { stepz = 3 }"),
     "overrides: unknown key 'stepz'"),
    (("dataset = \"basicprop-line\"", "dataset = \"basicprop-line\"\noverrides = { seed = 3 }"),
     "overrides: unknown key 'seed'"),
    (("seeds = [0]", "seeds = [0]\n[budgets.cpu]\nevall = {}"), "budgets.cpu: unknown key 'evall'"),
    (("seeds = [0]", "seeds = [0]\n[budgets.cpu]\neval = { n_sample = 3 }"), "unknown key 'n_sample'"),
    (("dataset = \"basicprop-line\"", "dataset = \"basicprop-line\"\neval = { q_draw = 3 }"),
     "rows\\[0\\].eval: unknown key 'q_draw'"),
    (("dataset = \"basicprop-line\"", "dataset = \"basicprop-line\"\ntarget = { metric = \"acc\" }"),
     "unknown metric 'acc'"),
    (("name = \"t\"", "name = \"t\"\nrowz = 1"), "unknown key 'rowz'"),
])
def test_spec_mistakes_name_the_file_and_key(tmp_path, edit, message):
    path = _write_spec(tmp_path, SPEC.replace(*edit))
    with pytest.raises(ValueError, match=message) as err:
        load_study(path)
    assert str(path) in str(err.value)


def test_row_eval_settings_apply_under_every_budget_over_the_budgets(tmp_path):
    spec = load_study(_write_spec(tmp_path, SPEC.replace("seeds = [0]", """seeds = [0]
[budgets.cpu]
eval = { n_samples = 500, seed = 3 }""") + """eval = { n_samples = 50, q_draws = 4 }
budgets.cpu = { eval = { n_samples = 100, num_bins = 7 } }
"""))
    row = spec.row("line")
    assert spec.eval_settings(row, "cpu") == {"n_samples": 50, "seed": 3, "num_bins": 7, "q_draws": 4}
    assert spec.eval_settings(row, "gpu") == {"n_samples": 50, "q_draws": 4}


def test_bad_rows_and_settings_fail_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="unknown study 'smok'"):
        api.run_study("smok", tmp_path / "a", budget="smoke")
    with pytest.raises(ValueError, match="unknown row 'lin'"):
        api.run_study("smoke", tmp_path / "a", budget="smoke", rows=["lin"])
    spec = _write_spec(tmp_path, SPEC.replace("dataset = \"basicprop-line\"",
                                              "dataset = \"basicprop-line\"\noverrides = { batch_size = -1 }"))
    with pytest.raises(ValueError, match="row 'line'.*batch"):
        api.run_study(spec, tmp_path / "a", budget="smoke")
    assert not (tmp_path / "a").exists()


def test_every_shipped_study_plans_under_every_budget(tmp_path):
    names = api.list_studies()
    assert {"seed-table", "rectangles-fixes", "noise", "basicprop-plus", "cinfogan", "mnist", "smoke"} <= set(names)
    for name in names:
        spec = load_study(name)
        for budget in ("smoke", "cpu", "gpu"):
            runs = runner.plan(spec, tmp_path, budget)
            assert len(runs) == len(spec.rows) * len(spec.seeds)
            assert len({r.train["out"] for r in runs}) == len(runs)
    table = load_study("seed-table")
    assert len(table.rows) == 18 and {r.preset for r in table.rows} >= {"vanilla-gan", "gan-codes", "infogan",
                                                                        "infogan-no-z", "infogan-cat-only",
                                                                        "infogan-real-mi"}


def test_smoke_study_summaries(smoke):
    out, result, lines = smoke
    assert sorted(result["done"]) == ["line--seed0", "line--seed1", "rectangles--seed0", "rectangles--seed1"]
    assert result["failed"] == [] and result["skipped"] == []
    sums = _summaries(out)
    assert set(sums) == set(result["done"])
    for s in sums.values():
        assert s["status"] == "ok" and s["message"] == ""
        factors = {f: m for f, m in s["metrics"].items() if f != "_"}
        assert set(factors) == ({"position"} if s["row"] == "line" else {"left_height", "right_height"})
        for factor, m in factors.items():
            assert 0 <= m["enc_acc"] <= 1 and 0 <= m["gen_acc"] <= 1
            assert "enc_acc" in s["untrained"][factor]          # the untrained network, scored the same way
        assert [c["step"] for c in s["curve"]] == [12, 24]
        assert all(f"acc/{f}" in c for c in s["curve"] for f in factors)   # Q scored at each evaluation
        assert s["config"]["steps"] == 24 and s["config"]["seed"] == s["seed"]
        assert len(s["config_hash"]) == 12 and s["wall_s"] > 0 and s["versions"]["torch"]
        # sample quality of both networks, from the one report that holds the untrained numbers too
        for numbers in (s["metrics"]["_"], s["untrained"]["_"]):
            assert numbers["fd"] >= 0 and 0 <= numbers["precision"] <= 1 and 0 <= numbers["recall"] <= 1
        assert s["scores"]["quality.fd"] == s["metrics"]["_"]["fd"]
        assert s["untrained_scores"]["quality.fd"] == s["untrained"]["_"]["fd"]
        assert s["untrained_scores"]["enc.mig"] == pytest.approx(
            json.loads((Path(s["run_dir"]) / "eval" / "report.json").read_text())["untrained.enc.mig"])
        assert not any(k.startswith("untrained.") for k in s["scores"])
    # the trained and the untrained scores are different networks' numbers
    line0 = sums["line--seed0"]
    assert line0["metrics"] != line0["untrained"]
    assert sum(line.startswith("[") for line in lines) == 4 and "ETA" in lines[-2]


def test_same_command_again_skips_finished_runs(smoke):
    out, _, _ = smoke
    before = {p.name: p.read_bytes() for p in (out / "runs").iterdir()}
    again = api.run_study("smoke", out, budget="smoke", jobs=2)
    assert again["done"] == [] and len(again["skipped"]) == 4
    assert {p.name: p.read_bytes() for p in (out / "runs").iterdir()} == before
    st = api.study_status(out)
    assert [r["state"] for r in st["runs"]] == ["done"] * 4 and st["left"] == 0


def test_status_lists_every_finished_run_not_only_the_last_command(smoke):
    out, _, _ = smoke
    info = (out / "study.json").read_bytes()
    try:
        again = api.run_study("smoke", out, budget="smoke", rows=["line"], seeds=[0])
        assert again["skipped"] == ["line--seed0"] and json.loads((out / "study.json").read_text())["runs"] == [
            "line--seed0"]
        st = api.study_status(out)
        assert sorted(r["run"] for r in st["runs"]) == ["line--seed0", "line--seed1", "rectangles--seed0",
                                                        "rectangles--seed1"]
        assert {r["state"] for r in st["runs"]} == {"done"} and st["left"] == 0
    finally:
        (out / "study.json").write_bytes(info)


def test_report_tables_and_figures(smoke, tmp_path):
    out, _, _ = smoke
    built = api.study_report(out)
    rows = {r["row"]: r for r in built["rows"]}
    assert set(rows) == {"line", "rectangles"}
    line = rows["line"]
    sums = _summaries(out)
    accs = [sums[f"line--seed{s}"]["metrics"]["position"]["enc_acc"] for s in (0, 1)]
    stats = line["factors"]["position"]["enc_acc"]["trained"]
    assert stats["mean"] == pytest.approx(sum(accs) / 2) and stats["min"] == min(accs) and stats["n"] == 2
    assert line["at_target"] == sum(a >= 0.95 for a in accs) and line["diverged"] == 0
    assert "| line | position |" in built["table_md"]
    head = built["table_md"].splitlines()[0]
    assert "| FD | precision | recall | untrained FD / precision / recall |" in head
    fd = [sums[f"line--seed{s}"]["metrics"]["_"]["fd"] for s in (0, 1)]
    assert f"| {sum(fd) / 2:.1f} ± " in built["table_md"].splitlines()[2]
    assert "line,0,ok,_,fd," in built["csv"]
    csv_lines = built["csv"].splitlines()
    assert csv_lines[0].startswith("study,row,seed,status,factor,metric,trained,untrained")
    assert len(csv_lines) == 1 + sum(len(m) for s in sums.values() for m in s["metrics"].values())
    assert "line,0,ok,position,enc_acc," in built["csv"]
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nintro\n")
    paths = report.write(built, tmp_path / "rep", results)
    names = {p.name for p in paths}
    assert {"summary.json", "summary.csv", "TABLE.md", "curves.png", "traversals.png", "RESULTS.md"} <= names
    report.write(built, tmp_path / "rep", results)                  # refreshed, not appended twice
    text = results.read_text()
    assert text.startswith("# Results\n\nintro\n") and text.count("<!-- study:smoke -->") == 1
    assert "python cli.py study run smoke" in text


def test_second_study_process_on_the_same_directory_is_refused(tmp_path):
    with folder_lock(tmp_path, "study directory"):
        with pytest.raises(ValueError, match="study directory .* is in use by process"):
            api.run_study("smoke", tmp_path, budget="smoke", jobs=1)


def test_diverged_run_is_a_result_and_a_crash_is_retried_once(tmp_path, monkeypatch):
    from gan_models import TrainingDiverged
    calls = []

    def fake_train(run, run_dir):
        calls.append(run.key)
        if run.seed == 0:
            raise TrainingDiverged("non-finite loss at step 3")
        if calls.count(run.key) == 1:
            raise RuntimeError("worker lost its GPU")
        raise FileNotFoundError("still broken")

    monkeypatch.setattr(runner, "_train", fake_train)
    result = api.run_study("smoke", tmp_path, budget="smoke", rows=["line"], jobs=1)
    assert calls == ["line--seed0", "line--seed1", "line--seed1"]      # diverged: not retried; crash: once
    assert result["done"] == ["line--seed0"] and result["failed"] == ["line--seed1"]
    sums = _summaries(tmp_path)
    assert sums["line--seed0"]["status"] == "diverged" and "step 3" in sums["line--seed0"]["message"]
    assert sums["line--seed1"]["status"] == "failed" and "still broken" in sums["line--seed1"]["message"]
    states = {r["run"]: r["state"] for r in api.study_status(tmp_path)["runs"]}
    assert states == {"line--seed0": "diverged", "line--seed1": "failed"}
    table = api.study_report(tmp_path)["rows"][0]
    assert table["diverged"] == 1 and table["failed"] == 1 and table["at_target"] == 0


def test_interrupted_run_resumes_to_the_same_numbers(smoke, tmp_path):
    """A run whose training stopped half-way (checkpoint at step 12, no summary) is resumed, and ends with the same
    summary numbers as the uninterrupted run."""
    from eval.clustering import code_factor_accuracy
    from gan_models import TrainConfig, train
    out, _, _ = smoke
    spec = load_study("smoke")
    run = [r for r in runner.plan(spec, tmp_path, "smoke", rows=["line"], seeds=[0])][0]
    train(TrainConfig.from_dict({**run.train, "steps": 12}), score_codes=code_factor_accuracy)
    assert (Path(run.train["out"]) / "ckpt.pt").is_file()
    result = api.run_study("smoke", tmp_path, budget="smoke", rows=["line"], seeds=[0], jobs=1)
    assert result["done"] == ["line--seed0"]
    resumed = _summaries(tmp_path)["line--seed0"]
    uninterrupted = _summaries(out)["line--seed0"]
    assert resumed["config_hash"] == uninterrupted["config_hash"]
    assert resumed["metrics"] == uninterrupted["metrics"] and resumed["curve"] == uninterrupted["curve"]


def test_changed_evaluation_settings_rescore_the_trained_checkpoint(smoke, tmp_path):
    """A row whose evaluation settings change is scored again on its checkpoint, not trained again; a change of a
    training setting trains afresh in a new run directory."""
    import shutil
    out, _, _ = smoke
    copy = tmp_path / "study"
    shutil.copytree(out, copy)
    spec = (ROOT / "studies" / "smoke.toml").read_text()
    rescored = _write_spec(tmp_path, spec.replace("n_samples = 300", "n_samples = 200"))
    before = _summaries(copy)["line--seed0"]
    run_dir = Path(before["run_dir"].replace(str(out), str(copy)))
    trained = {p.name: p.read_bytes() for p in (run_dir / "ckpt.pt", run_dir / "log.jsonl")}
    info = json.loads((copy / "study.json").read_text())
    (copy / "study.json").write_text(json.dumps({**info, "spec": str(rescored)}))
    states = {r["run"]: r["state"] for r in api.study_status(copy)["runs"]}
    assert set(states.values()) == {"trained"}        # every row's evaluation settings changed

    result = api.run_study(rescored, copy, budget="smoke", rows=["line"], seeds=[0], jobs=1)
    after = _summaries(copy)["line--seed0"]
    assert result["done"] == ["line--seed0"] and after["config_hash"] != before["config_hash"]
    assert Path(after["run_dir"]) == run_dir
    assert {p.name for p in (copy / "work" / "line").iterdir()} == {p.name for p in (out / "work" / "line").iterdir()}
    assert {p.name: p.read_bytes() for p in (run_dir / "ckpt.pt", run_dir / "log.jsonl")} == trained
    assert after["curve"] == before["curve"] and after["timing"]["train_s"] == before["timing"]["train_s"]
    assert after["eval_settings"]["n_samples"] == 200
    assert json.loads((run_dir / "eval" / "report.json").read_text())["setting.n_samples"] == 200

    retrained = _write_spec(tmp_path, spec.replace("eval_size = 500", "eval_size = 400"))
    runs = runner.plan(load_study(retrained), copy, "smoke", rows=["line"], seeds=[0])
    assert Path(runs[0].train["out"]) != run_dir and not runner.is_done(runs[0])


def test_cli_list_and_bad_input(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "study", *args], cwd=ROOT, capture_output=True, text=True)
    listed = cli("list")
    assert listed.returncode == 0 and "seed-table" in listed.stdout and "smoke" in listed.stdout
    for args, message in ((["run", "nope", "--out", str(tmp_path / "x")], "unknown study 'nope'"),
                          (["run", "smoke", "--out", str(tmp_path / "x"), "--seeds", "a"], "--seeds: expected"),
                          (["status", str(tmp_path)], "not a study directory")):
        res = cli(*args)
        assert res.returncode == 2 and res.stderr.strip().startswith("error:") and message in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_ray_executor_gives_the_local_summaries(smoke, tmp_path):
    ray = pytest.importorskip("ray")
    out, _, _ = smoke
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = api.run_study("smoke", tmp_path, budget="smoke", executor="ray")
    finally:
        ray.shutdown()
    assert sorted(result["done"]) == sorted(_summaries(out))
    local, remote = _summaries(out), _summaries(tmp_path)
    for key in result["done"]:
        for field in ("status", "config_hash", "metrics", "untrained", "curve", "scores"):
            assert remote[key][field] == local[key][field], (key, field)


def test_tables_without_sample_quality_keep_their_columns():
    """Summaries written before sample quality (the committed results) give the table they always gave."""
    run = {"study": "t", "row": "line", "seed": 0, "status": "ok", "config_hash": "x", "wall_s": 1.0,
           "metrics": {"position": {"enc_acc": 1.0, "enc_mig": 0.7}},
           "untrained": {"position": {"enc_acc": 0.4, "enc_mig": 0.1}}}
    table = report.build([run])["table_md"]
    assert "FD" not in table
    assert table.splitlines()[2].startswith("| line | position | 1.000 | – | 0.700 | – | 0.400 / 0.100 |")
    with_quality = {**run, "metrics": {**run["metrics"], "_": {"fd": 12.34, "precision": 0.9, "recall": 0.8}},
                    "untrained": {**run["untrained"], "_": {"fd": 99.0, "precision": 0.1, "recall": 0.2}}}
    lines = report.build([with_quality])["table_md"].splitlines()
    assert len(lines) == 3 and "label fidelity" not in lines[2]
    assert "| 12.3 | 0.900 | 0.800 | 99.0 / 0.100 / 0.200 |" in lines[2]   # one seed: no ± 0.000


def test_tables_show_the_spread_only_over_several_seeds():
    runs = [{"study": "t", "row": "line", "seed": s, "status": "ok", "config_hash": "x", "wall_s": 1.0,
             "metrics": {"position": {"enc_acc": acc}}, "untrained": {"position": {"enc_acc": 0.4}}}
            for s, acc in ((0, 1.0), (1, 0.8))]
    assert "| 1.000 |" in report.build(runs[:1])["table_md"]
    assert "| 0.900 ± 0.100 (worst 0.800) |" in report.build(runs)["table_md"]


def test_options_at_their_defaults_leave_the_config_hash_as_it_was():
    """A run hashed before an option existed still counts as done while the option keeps its default."""
    from gan_models import make_config
    from study.runner import config_hash

    cfg = make_config("infogan-line", out="-").to_dict()
    before = {k: v for k, v in cfg.items()
              if k not in ("lr_scale", "precision", "compile", "keep", "tensorboard", "bn_recalibrate")}
    ev = {"n_samples": 100}
    assert config_hash(cfg, ev) == config_hash(before, ev)
    assert config_hash({**cfg, "keep": 3, "tensorboard": True}, ev) == config_hash(cfg, ev)
    for changed in ({"lr_scale": "sqrt"}, {"precision": "bf16"}, {"compile": True}, {"bn_recalibrate": 64},
                    {"seed": 1}):
        assert config_hash({**cfg, **changed}, ev) != config_hash(cfg, ev), changed
    assert config_hash(cfg, {"n_samples": 200}) != config_hash(cfg, ev)


@pytest.mark.parametrize("study_dir", sorted(p.parent.name for p in (ROOT / "results").glob("*/study.json")))
def test_every_committed_run_still_counts_as_done(study_dir):
    """A new training option at its default must leave the hash alone: else the same command reruns every study."""
    states = {r["run"]: r["state"] for r in api.study_status(ROOT / "results" / study_dir)["runs"]}
    assert states and set(states.values()) <= {"done", "diverged"}, states


def test_reproduce_commands_redo_exactly_the_runs_summarised():
    runs = [{"row": r, "seed": s, "threads": 1} for r, seeds in (("a", range(5)), ("b", range(10)), ("c", range(5)))
            for s in seeds]
    assert report.reproduce_commands(runs, "noise", Path("results/noise"), "cpu") == [
        "python cli.py study run noise --out results/noise --budget cpu --rows a,c --seeds 0,1,2,3,4 --threads 1",
        "python cli.py study run noise --out results/noise --budget cpu --rows b --seeds 0,1,2,3,4,5,6,7,8,9 "
        "--threads 1"]


def test_cinfogan_rho_is_the_best_code_per_property_and_read_from_older_summaries():
    """gen_rho = max over continuous codes of |Spearman rho| with the measured property; summaries written before
    gen_rho existed get it from their scores, and a target on it is judged."""
    from study.headline import headline

    scores = {"cinfogan.label_fidelity": 0.99, "cinfogan.rho.cont0.slant": -0.8, "cinfogan.rho.cont1.slant": 0.1,
              "cinfogan.rho.cont0.width": 0.2, "cinfogan.rho.cont1.width": -0.5}
    assert headline(scores) == {"slant": {"gen_rho": 0.8}, "width": {"gen_rho": 0.5},
                                "_": {"label_fidelity": 0.99}}
    runs = [{"study": "t", "row": "mnist", "seed": s, "status": "ok", "config_hash": "x", "wall_s": 1.0,
             "target": {"metric": "gen_rho", "min": 0.7, "factors": ["slant"]},
             "metrics": {"_": {"label_fidelity": 0.99}}, "untrained": {},
             "scores": {**scores, "cinfogan.rho.cont0.slant": rho}} for s, rho in ((0, -0.8), (1, 0.6))]
    built = report.build(runs)
    table = built["table_md"].splitlines()
    assert "generator |ρ|" in table[0]
    slant = next(line for line in table if line.startswith("| mnist | slant |"))
    assert "| 0.700 ± 0.100 (worst 0.600) |" in slant and "| 1/2 |" in slant
    assert built["rows"][0]["factors"]["width"]["gen_rho"]["trained"]["mean"] == 0.5


LONG = """
name = "long"
seeds = [0, 1, 2]
[budgets.smoke]
train = { steps = 100000, batch_size = 8, log_every = 1, ckpt_every = 100000, eval_size = 100 }
[[rows]]
name = "line"
preset = "infogan-line"
dataset = "basicprop-line"
"""


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a container's first process may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_study_saves_every_run_in_training_and_ends_its_workers(tmp_path, signum):
    """Only the driver is signalled (as a scheduler or `kill` does): it stops its workers, each saves its run at a
    step boundary, the third run never starts in a freed worker, no summary is written, and `status` says where
    each run stopped."""
    spec, out = _write_spec(tmp_path, LONG), tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "study", "run", str(spec), "--out", str(out),
                             "--budget", "smoke", "--jobs", "2", "--threads", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def training(seed: int) -> bool:
        log = next(out.glob(f"work/line/seed{seed}-*/log.jsonl"), None)
        return log is not None and '"train"' in log.read_text()

    end = time.time() + 120
    while not (training(0) and training(1)):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, "the runs did not start training"
        time.sleep(0.1)
    workers = _children(proc.pid)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert err.strip().splitlines()[-1] == ("terminated" if signum == signal.SIGTERM else "aborted")
    assert "Traceback" not in err
    end = time.time() + 10
    while any(map(_alive, workers)) and time.time() < end:
        time.sleep(0.1)
    assert len(workers) >= 2 and not any(map(_alive, workers)), err
    assert not list(out.glob("runs/*.json"))
    status = api.study_status(out)["runs"]
    assert [r["state"] for r in status] == ["stopped", "stopped", "pending"]
    assert not list(out.glob("work/line/seed2-*"))
    for r in status[:2]:
        run_dir = next(out.glob(f"work/line/seed{r['seed']}-*"))
        saved = read_checkpoint(run_dir / "ckpt.pt")["step"]
        assert saved == r["step"] > 0              # saved where the log ends: at the step the signal let finish


SHORT = """
name = "short"
seeds = [0, 1, 2]
[budgets.smoke]
train = { steps = 120, batch_size = 8, log_every = 1, ckpt_every = 20, eval_size = 100 }
eval = { n_samples = 200, traversal_bases = 2, dci_max_train = 100, mlp = false }
[[rows]]
name = "line"
preset = "infogan-line"
dataset = "basicprop-line"
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_a_killed_worker_breaks_the_pool_and_every_run_still_ends_done(tmp_path):
    """kill -9 of a worker while two runs train: both go to a new pool (resuming their checkpoints), the run not
    yet started goes with them, and all three end done with one summary each."""
    spec, out = _write_spec(tmp_path, SHORT), tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "study", "run", str(spec), "--out", str(out),
                             "--budget", "smoke", "--jobs", "2", "--threads", "1"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.time() + 120
        while not list(out.glob("work/line/seed*-*/ckpt.pt")):
            assert proc.poll() is None and time.time() < end, proc.communicate()
            time.sleep(0.1)
        workers = [pid for pid in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        os.kill(workers[0], signal.SIGKILL)
        stdout, err = proc.communicate(timeout=400)
    finally:                                    # a failed check leaves no study running
        if proc.poll() is None:
            for pid in _children(proc.pid) + [proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert [r["state"] for r in api.study_status(out)["runs"]] == ["done", "done", "done"]
    assert sorted(p.name for p in out.glob("runs/*.json")) == [f"line--seed{s}.json" for s in range(3)]
    assert "3 runs finished, 0 skipped (already done), 0 failed" in stdout


def test_the_tuned_mnist_preset_is_the_study_row_it_reports(tmp_path):
    """``--preset infogan-mnist-real-mi`` trains exactly what study mnist's row ran (README's MNIST results)."""
    from gan_models import make_config
    study = load_study("mnist")
    (run,) = runner.plan(study, tmp_path, "cpu", seeds=[3], rows=["infogan-mnist-b64-real-mi-1-from-0.5-decay"])
    cfg = make_config("infogan-mnist-real-mi", dataset="mnist", seed=3, out="-", progress=False, threads=1,
                      device="cpu")
    differs = {k for k, v in cfg.to_dict().items() if run.train[k] != v}
    assert differs == {"preset", "out"}

