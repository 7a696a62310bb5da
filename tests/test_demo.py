"""The `make demo` job, with a short fine-tuning."""

import re

from rich.console import Console

from mmkeras import demo


def test_the_demo_runs_every_step_end_to_end(tmp_path, capfd):
    console = Console(record=True, width=120)
    rows = demo.run(
        out_dir=str(tmp_path), fine_tune_examples=256, console=console
    )
    # Eager calls of the zoo's XLA models retraced the compiled attention.
    assert "retracing" not in capfd.readouterr().err
    results = {step: result for step, result, _ in rows}
    assert results["Classify photos (EfficientNet-Lite0)"] == (
        "Egyptian cat, espresso"
    )
    captions = results["Caption scenes (transformer captioner)"]
    # "100% of 32 captions true (4 beams)"; an untrained captioner writes
    # none, and the entry's card gives 99.5% on 200 scenes.
    assert int(captions.split("%")[0]) >= 90
    # "right name in the top 5 for 20/64 held-out drawings (chance 0.3%)";
    # the entry's card gives 38% over all 1,911 held-out drawings.
    retrieved = results[
        "Retrieve emoji names (EfficientNet + MiniLM dual encoder)"
    ]
    assert int(retrieved.split()[7].split("/")[0]) >= 12
    # "right emoji name in the top 5 for 0/4 photos (ranks 1497, 1260, 1568,
    # 622 of 1911)": every emoji caption ranked for each photo.
    photos = results["Rank emoji names for photos (dual encoder)"]
    found = re.fullmatch(
        r"right emoji name in the top 5 for (\d)/4 photos \(ranks (.*) of "
        r"(\d+)\)",
        photos,
    )
    ranks = [int(rank) for rank in found[2].split(", ")]
    assert int(found[1]) == sum(rank <= 5 for rank in ranks)
    assert int(found[3]) > 1800  # the emoji concepts
    assert len(ranks) == 4 and all(1 <= r <= int(found[3]) for r in ranks)
    # "named 1/8 held-out drawings, answered 6/8 easy-VQA questions;
    # chelsea: 'A lighthouse.'; ...": the entry's card gives 18% and 73%
    # on 200 of each.
    chat = re.fullmatch(
        r"named (\d)/8 held-out drawings, answered (\d)/8 easy-VQA "
        r"questions; chelsea: '(.+)'; coffee: '(.+)'; astronaut: '(.+)'; "
        r"rocket: '(.+)'",
        results["Chat about pictures (SmolLM2 + EfficientNet-Lite0)"],
    )
    assert int(chat[1]) >= 1 and int(chat[2]) >= 5
    assert all(answer.strip() for answer in chat.groups()[2:])
    vqa = results["Answer questions (co-attention VQA)"]
    assert float(vqa.split()[1]) >= 0.95  # "accuracy 0.984 on 64 ..."
    assert results["Classify image + text (gated fusion)"].startswith(
        "accuracy 1.000"
    )
    assert results["Export and verify"].startswith("3 artifacts")
    assert results["Serve without mmkeras"].startswith("served: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "onnx",
        "saved_model",
        "saved_model_xla",
    ]
    assert "mmkeras demo" in console.export_text()
