"""benchmarks/zoo_card.py: each task folder's card from the measurements build_zoo.sh writes, the real benchmarks'
outputs on a tiny layered zoo; a task with nothing measured says so; `--write` keeps the manifest valid."""

from __future__ import annotations

import json
import shutil

import pytest
import torch


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    from rla_gym.data import synthetic_episode, write_episode
    from rla_gym.models.layered import save_layered
    from rla_gym.models.random_bundle import make_random_bundle
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel

    root = tmp_path_factory.mktemp("zoo-card")
    ur10e = make_random_bundle("ur10e", "tiny", episodes=3, length=24, seed=0, task="RollBall")
    ur10e.metadata["success_threshold"] = 0.25
    torch.manual_seed(0)
    ur10e.regression = RegressionWorldModel(RegressionConfig.matching(ur10e.stack.config))
    torch.nn.init.normal_(ur10e.regression.out_proj.weight, std=0.05)  # not the identity: it must predict
    panda = make_random_bundle("panda", "tiny", episodes=3, length=24, seed=1, task="PullCube")
    for name in ("encoder", "image_decoder", "rla_encoder", "rla_decoder"):
        panda.stack.components()[name].load_state_dict(ur10e.stack.components()[name].state_dict())
    panda.stack.config.latent_scale = ur10e.stack.config.latent_scale
    zoo = root / "zoo"
    save_layered(ur10e, zoo, shared="shared-tiny", dynamics="ur10e-tiny", task="ur10e-RollBall-tiny")
    save_layered(panda, zoo, shared="shared-tiny", dynamics="panda-tiny", task="panda-PullCube-tiny")
    data = root / "data"
    for split, seeds in (("train", range(6)), ("heldout", range(100, 103))):
        for i, s in enumerate(seeds):
            episode = synthetic_episode(40, 48, robot="ur10e", task="RollBall-v1", move=(5, 30), seed=s)
            write_episode(data / split / "success", i, episode, crf=10)
    return zoo, data, root / "results"


def _report(seeds: tuple[int, ...]) -> dict:
    from rla_gym.eval.records import eval_to_dict
    from rla_gym.sim.evaluate import EvalResult, SeedResult

    def result(wins: list[bool]) -> dict:
        return eval_to_dict(EvalResult("ur10e", "RollBall", [SeedResult(s, w, 30, 1.0) for s, w in zip(seeds, wins)]))

    bc = [i % 4 != 0 for i in range(len(seeds))]  # 75 %
    rl = [i % 5 != 0 for i in range(len(seeds))]  # 80 %
    picks = [{"name": "RL chosen by the world model", "iteration": 100, "eval": result(rl)}]
    return {"rl_seed": 1, "seeds": [seeds[0], seeds[-1]], "bc": result(bc), "rl": picks}


def test_cards_carry_what_was_measured_and_say_what_was_not(zoo, capsys):
    from benchmarks import prediction_quality as pq
    from benchmarks import zoo_card
    from benchmarks.object_fidelity import main as object_fidelity
    from rla_gym.models.bundle import load_bundle, verify_manifest
    from rla_gym.specs.seeds import REPORT_SEEDS

    root, data, results = zoo
    task = root / "ur10e-RollBall-tiny"
    pq_out = results / "zoo-pq" / "ur10e-RollBall"
    measured = pq.main(["--bundle", str(task), "--data", str(data / "heldout"), "--out", str(pq_out),
                        "--euler", "1", "--max-starts", "3"])  # fmt: skip
    assert object_fidelity(["--bundle", str(task), "--heldout", str(data / "heldout"), "--train", str(data / "train"),
                            "--out", str(results / "zoo-objfid" / "ur10e-RollBall"), "--no-sim", "--draws", "2"]) == 0  # fmt: skip
    wmrl = results / "zoo-wmrl" / "ur10e-RollBall"
    wmrl.mkdir(parents=True)
    (wmrl / "report.json").write_text(json.dumps(_report(tuple(REPORT_SEEDS[:40]))))
    (wmrl / "learning_curve.png").write_bytes(b"\x89PNG the run's curve")
    capsys.readouterr()

    assert zoo_card.main(["--zoo", str(root), "--results", str(results), "--write"]) == 0
    printed = capsys.readouterr().out
    text = (task / "README.md").read_text()
    assert text.startswith("---\nlibrary_name: rla-gym") and "# ur10e-RollBall-tiny: ur10e RollBall" in text
    assert "Success threshold (goal-token L1, `rla-gym calibrate` on the demos): 0.2500." in text
    for name, model in measured["models"].items():  # every model's row, with the benchmark's own numbers
        t30 = model["horizons"][-1]
        assert f"| {name} | " in text and f"{t30['token_l1']:.4f} |" in text and f"{t30['ssim']:.3f}" in text
    assert pq.command_table(measured) in text and "| model | hold t+10 |" in text  # the hold / move split
    assert f"| {pq.CEILING} | {measured['true_latents']['horizons'][0]['token_l1']:.4f} |" in text
    assert "\n".join(pq.paired_lines(measured)) in text and "Wilcoxon signed-rank, p = " in text
    assert pq.sources_line(measured) in text and "Starts by the outcome of their episode: 3 from successful" in text
    l1, ssim = zoo_card.beats_copy(measured)
    assert ("RLA-WM beats copy-first" in text) == (l1 and ssim)
    assert (results / "zoo-objfid" / "ur10e-RollBall" / "table.md").read_text().strip() in text
    policy = {line.split("  ")[0]: line for line in text.splitlines() if line.startswith(("BC ", "RL chosen"))}
    assert " 75.0 % " in policy["BC"] and " 80.0 % " in policy["RL chosen by the world model (iteration 100)"]
    assert "exact McNemar" in policy["RL chosen by the world model (iteration 100)"]
    for name in measured["figures"]:  # the benchmark's figures, shown by the card, stored beside it
        assert f"]({name})" in text and (task / name).read_bytes() == (pq_out / name).read_bytes()
    assert len(measured["figures"]) == 2
    assert f"]({zoo_card.POLICY_CURVE})" in text.split("## Policies in ManiSkill")[1]  # the RL run's curve, shown there
    assert (task / zoo_card.POLICY_CURVE).read_bytes() == b"\x89PNG the run's curve"
    stored = {  # the benchmarks' own JSON beside the card, as they wrote it
        "prediction_quality.json": pq_out / "prediction_quality.json",
        "object_fidelity.json": results / "zoo-objfid" / "ur10e-RollBall" / "results.json",
        "wmrl_report.json": wmrl / "report.json",
    }
    for name, source in stored.items():
        assert (task / name).read_bytes() == source.read_bytes() and f"`{name}`" in text
    verify_manifest(task, checksums=True)  # the card and its figures are in the manifest
    assert load_bundle(task).task == "RollBall"

    other = (root / "panda-PullCube-tiny" / "README.md").read_text()
    assert (
        not (root / "panda-PullCube-tiny" / "prediction_quality.json").exists()
        and "stored beside this card: none" in other
    )
    assert other.count(zoo_card.NOT_MEASURED) == 3, "nothing measured for PullCube: each section says so"
    assert zoo_card.POLICY_CURVE not in other and not (root / "panda-PullCube-tiny" / zoo_card.POLICY_CURVE).exists()
    rows = [line for line in printed.splitlines() if line.startswith(("| ur10e |", "| panda |"))]
    assert len(rows) == 2 and rows[0].startswith("| panda | PullCube | not measured yet")
    assert rows[1].endswith("| 75.0 % | 80.0 % |")


def test_bc_cards_and_extra_sections(zoo, tmp_path, capsys):
    """The BC folder beside a task folder gets its card from the BC run (its config and held-out MSE); `--extra`
    appends a file to one task's card, and a task folder that is not there, or a missing file, is refused."""
    from benchmarks import zoo_card
    from rla_gym.models.bundle import verify_manifest
    from tests.agents_support import tiny_bc

    root, _, _ = zoo
    results = tmp_path / "results"
    run = results / "zoo-runs" / "bc-ur10e-RollBall"
    tiny_bc().save_pretrained(run / "final")
    (run / "train_config.json").write_text(json.dumps({"steps": 330, "batch_size": 64, "lr": 3e-4,
                                                       "weight_decay": 1e-4, "warmup_steps": 100}))  # fmt: skip
    (run / "eval.csv").write_text("step,mse\n33,0.1044649\n330,0.0270769\n")
    bc_folder = root / "ur10e-RollBall-tiny-bc"
    tiny_bc().save_pretrained(bc_folder)
    extra = tmp_path / "before.md"
    extra.write_text("## Measured on the stack before the zoo\n\nSpearman +0.92.\n\n![ranking](old_rank.png)\n")
    (tmp_path / "old_rank.png").write_bytes(b"\x89PNG figure")
    try:
        args = ["--zoo", str(root), "--results", str(results), "--write"]
        assert zoo_card.main([*args, "--extra", f"ur10e-RollBall-tiny={extra}"]) == 0
        card = (bc_folder / "README.md").read_text()
        assert "# ur10e-RollBall-tiny-bc: the BC policy beside ur10e-RollBall-tiny" in card
        assert "0.1045 at step 33, 0.0271 at step 330" in card and "330 steps, batch 64, AdamW lr 0.0003" in card
        assert "rows of 5 normalised joint targets" in card and "behavior-cloning" in card
        task_card = (root / "ur10e-RollBall-tiny" / "README.md").read_text()
        assert task_card.endswith(
            "## Measured on the stack before the zoo\n\nSpearman +0.92.\n\n![ranking](old_rank.png)\n"
        )
        assert (root / "ur10e-RollBall-tiny" / "old_rank.png").read_bytes() == b"\x89PNG figure"  # what it links
        verify_manifest(root / "ur10e-RollBall-tiny", checksums=True)
        assert "Measured on the stack before" not in (root / "panda-PullCube-tiny" / "README.md").read_text()
        assert not (root / "panda-PullCube-tiny-bc").exists(), "no BC folder there: none is made"
        capsys.readouterr()
        unlinked = tmp_path / "unlinked.md"
        unlinked.write_text("![gone](missing.png)\n")
        for bad in (f"nowhere-tiny={extra}", "ur10e-RollBall-tiny=/no/such.md", str(extra), f"x={unlinked}"):
            with pytest.raises(SystemExit):
                zoo_card.main([*args, "--extra", bad])
            assert "--extra:" in capsys.readouterr().err
    finally:
        shutil.rmtree(bc_folder, ignore_errors=True)  # the zoo fixture is shared by the module
