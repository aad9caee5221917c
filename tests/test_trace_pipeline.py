"""ml-debug trace on data-pipeline bugs: a segmentation project whose paired transform draws apart for
the mask, and a classifier whose validation split numbers the classes in its own order. Each planted
bug must be named by its id with no other failing id; the clean twins must not fail at all.

Project: tests/trace_projects/pipeline/ (data.py with the datasets and transforms, models.py,
train_seg.py / train_seg_misaligned.py, train_birds.py --val-map shared|own_sorted|first_seen).
"""
import os

from conftest import ROOT

from mldebug.trace import trace

PIPE = os.path.join(ROOT, "tests", "trace_projects", "pipeline")


def run(script, *args, steps=40):
    return trace(os.path.join(PIPE, script), list(args), steps=steps)


def failing(report):
    return {c["id"]: c for c in report["checks"] if c["status"] == "fail"}


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


def test_seg_mask_augmented_apart_is_named_by_augment_alignment_only():
    r = run("train_seg_misaligned.py")
    f = failing(r)
    assert set(f) == {"augment-alignment"}, {k: v["summary"] for k, v in f.items()}
    s = f["augment-alignment"]["summary"]
    assert "Scenes" in s and "image" in s and "mask" in s
    assert f["augment-alignment"]["metrics"]["divergent"] >= 2


def test_seg_paired_transform_passes():
    r = run("train_seg.py")
    assert not failing(r), {k: v["summary"] for k, v in failing(r).items()}
    aa = by_id(r)["augment-alignment"]
    assert aa["status"] == "pass" and aa["metrics"]["pairs"].get("consistent", 0) >= 8, aa["summary"]


def test_val_label_map_in_its_own_order_is_named_by_split_consistency_only():
    r = run("train_birds.py", "--val-map", "first_seen")
    f = failing(r)
    assert set(f) == {"split-consistency"}, {k: v["summary"] for k, v in f.items()}
    sc = f["split-consistency"]
    assert "label ids differ between training and evaluation" in sc["summary"]
    import importlib.util
    spec = importlib.util.spec_from_file_location("_pipeline_data", os.path.join(PIPE, "data.py"))
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    train_rows, val_rows = data.records(320, seed=1), data.records(128, seed=2)
    tmap, vmap = data.sorted_label_map(train_rows), data.first_seen_label_map(val_rows)
    truth = {vmap[c]: tmap[c] for c in vmap if vmap[c] != tmap[c]}
    assert {int(k): v for k, v in sc["metrics"]["confusion"]["remapped"].items()} == truth


def test_val_with_its_own_equal_map_and_shared_map_pass():
    for val_map in ("own_sorted", "shared"):
        r = run("train_birds.py", "--val-map", val_map)
        assert not failing(r), (val_map, {k: v["summary"] for k, v in failing(r).items()})
        sc = by_id(r)["split-consistency"]
        assert sc["status"] == "pass" and sc["metrics"]["confusion"]["remapped"] == {}, sc["summary"]


def test_evaluating_the_training_split_too_is_not_leakage():
    r = run("train_birds.py", "--eval-train", steps=30)
    assert not failing(r), {k: v["summary"] for k, v in failing(r).items()}
    sc = by_id(r)["split-consistency"]
    assert sc["metrics"]["leakage"]["val_in_train"] == 0, sc["summary"]


def test_no_evaluation_within_the_traced_steps_skips():
    r = run("train_birds.py", steps=3)
    sc = by_id(r)["split-consistency"]
    assert sc["status"] == "skip" and "--steps all" in sc["summary"]
