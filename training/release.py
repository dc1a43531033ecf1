"""Package a trained run as the embedded dg-tiny, with its model card.

Writes the run's export (the weights the evaluation scored, as bfloat16), config, tokenizer and layout
budget into engine/models/dg-tiny/ and writes MODEL_CARD.md from the checkpoint's training state, the corpus
sources and a HumanEval-infilling report (bench/humaneval_infill.py --json).

    python -m training.release --run runs/dg-tiny --report runs/dg-tiny/humaneval.json \
        --report runs/dg-tiny/humaneval-served.json
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from pathlib import Path

import torch

from engine.serve.textonly import TextOnlyDiffusionGemma
from engine.spec import DRAFT, ENTROPY_BOUND, LEFT_TO_RIGHT, ModelSpec
from training.train import BUDGET, CANVASES, DECODING_ORDER, PACKAGED, VERIFY, export


ORDER_TEXT = {
    LEFT_TO_RIGHT: "left to right: each step fixes the leftmost open gap slot to its most likely token and renoises "
                   "the slots after it, until `<eoi>` or the request's line limit",
    ENTROPY_BOUND: "by DiffusionGemma's entropy-bound rules",
    DRAFT: f"in drafts: it writes the tokens left to right would (the leftmost open slot's most likely token, "
           f"the slots after it noised), several per forward pass: a draft row holds the model's own draft of the "
           f"open slots, and {VERIFY} verification rows take its first tokens as given and check them (`verify` in "
           f"dg.json), until `<eoi>` or the request's line limit",
}
CURVE_ROW = re.compile(r"^\| ([\d,]+) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", re.M)


def earlier_rows(card_text: str, before_step: int) -> list[dict]:
    """The training-curve rows of the card being replaced that came before this run's log (a run's log
    lives in runs/, which a new machine does not have)."""
    rows = []
    for m in CURVE_ROW.finditer(card_text):
        step, tokens = (int(m.group(i).replace(",", "")) for i in (1, 2))
        if step < before_step:
            rows.append(dict(step=step, tokens=tokens, val={"infill@1.0": {"enc": float(m.group(3)),
                                                                          "diff": float(m.group(4))},
                                                            "window@0.5": {"diff": float(m.group(5))}}))
    return rows


def curve(log: list[dict]) -> list[str]:
    """The held-out losses the run logged, about ten rows from first to last."""
    rows = log[:: max(1, len(log) // 12)] + log[-1:] if log else []
    out = ["", "## Training curve", "Held-out losses logged by `training/train.py` (nats per token; the infill loss is "
           "taken at full noise, the first inference step). From step 1,800 (session 2) filler after `<eoi>` counts "
           "0.1 in the infill loss, which raises that column, and one-line examples may use a 32-token canvas, which "
           "changed the held-out batches. From step 6,000 (session 4) the run resumed from the step-5,914 weights "
           "with a fresh optimizer (session 3's later checkpoint was lost with its machine) on a corpus rebuilt from "
           "the same sources, whose held-out batches differ. From step 12,982 (session 5) it continued session 4's "
           "checkpoint and optimizer, warming back up from the cooled learning rate. From step 20,277 (session 6) "
           "it continued the branch that stayed at the peak rate (from step 17,862), not the released cooled-down "
           "weights. From step 27,250 (session 7) half the steps train on draft states (`DRAFT_P`), with a "
           "fresh optimizer at a third of the peak rate (`--lr 5e-4`: the machine had lost session 6's optimizer), "
           "on a corpus rebuilt from the same sources, whose held-out batches differ. The last row is the last "
           "evaluation before the weights shipped.", "",
           "| step | tokens | next-token loss | infill loss | window loss (50% noise) |", "|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        if r["step"] not in seen:
            seen.add(r["step"])
            out.append(f"| {r['step']:,} | {r['tokens']:,} | {r['val']['infill@1.0']['enc']} | "
                       f"{r['val']['infill@1.0']['diff']} | {r['val']['window@0.5']['diff']} |")
    return out


def typing_table(runs: list[dict]) -> list[str]:
    """bench.typing's figures, one row per gate tried."""
    if not runs:
        return []
    out = ["", "Typing held-out files with the default settings but for the gate (`python -m bench.typing "
           "[--min-confidence X]`: a didChange and an inlineCompletion per keystroke, Tab when the suggestion is "
           f"exactly what comes next; {runs[0]['keystrokes']} keystrokes or so in {runs[0]['files']} files; latency with "
           "the engine on one thread beside other work). The gate shows a completion as far as its joint probability "
           "reaches the threshold:", "",
           "| gate | shown after | right among shown | characters by Tab | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: r["min_confidence"] or 0):
        right = "-" if r["right_share"] is None else format(r["right_share"], ".1%")
        out.append(f"| {r['min_confidence']} | {r['shown_share']:.1%} | {right} | {r['accepted_char_share']:.1%} | "
                   f"{r['latency_ms']['p50']} | {r['latency_ms']['p95']} |")
    return out


def defaults(spec: ModelSpec) -> list[str]:
    """Where the front ends' per-model defaults (dg.json) come from."""
    return ["", "## Defaults for the editor and dg-infill",
            f"`dg.json` sets the gate (`min_confidence`) to {spec.min_confidence} and `max_lines` to {spec.max_lines}; "
            "they apply wherever the user sets none. The gate judges the joint probability of what is shown (the "
            "product of its tokens' confidences), and is the one with the most characters written by Tab among "
            "those whose shown suggestions are mostly right, in the typing table below. Inside a word, the engine "
            "finishes it with a word the document spells (`word_ends`, infill/words.py). One line: on "
            "HumanEval single-line gaps as the server meets them (200 tasks, `bench.humaneval_infill --served`, "
            "left to right, step 20,277), 8 lines allowed gave pass@1 1.5%, below the 2.5% empty floor, at 905 ms "
            "a task, and 1 line 4.0% at 102 ms."]


def card(state: dict, sources: dict, report: dict, heldout: dict | None, config: dict, n_params: int,
         log: list[dict], order: str, typing: list[dict] = (), spec: ModelSpec | None = None) -> str:
    text = config["text_config"]
    lines = [
        "# dg-tiny",
        "",
        "The embedded default model of dg-lsp: a miniature DiffusionGemma (`DiffusionGemmaForBlockDiffusion`,",
        "text-only) trained from scratch by this project on permissively licensed Python source, for code",
        "infilling on a laptop CPU. Apache-2.0, like the project.",
        "",
        "## Architecture",
        f"- {n_params / 1e6:.2f}M parameters; hidden {text['hidden_size']}, {text['num_hidden_layers']} layers "
        f"({', '.join(text['layer_types'])}), {text['num_attention_heads']} heads ({text['num_key_value_heads']} KV), "
        f"head dim {text['head_dim']}, dense MLP {text['intermediate_size']} + {text['num_experts']} experts "
        f"top-{text['top_k_experts']} of {text['moe_intermediate_size']}, vocabulary {text['vocab_size']} "
        "(byte-level BPE trained on the corpus, digits split, specials `<pad> <eoi> <bos> <sep>`).",
        "- Encoder and decoder share every weight (DiffusionGemma); no vision tower is built.",
        f"- Canvas layout (`engine/canvas.py`): encoder `[far suffix <= {BUDGET.encoder_suffix}] <sep> "
        f"[far prefix <= {BUDGET.encoder_prefix}]`; decoder canvas of {' or '.join(map(str, CANVASES))} tokens "
        f"`[left flank <= {BUDGET.left_flank}][gap: middle <eoi> <pad>...][right flank <= {BUDGET.right_flank}]` "
        "(a smaller canvas has proportionally smaller flanks; a one-line gap gets the smallest that holds it).",
        "",
        "## Training",
        "- Recipe: `training/train.py` (window denoising with span noise + infill gaps with `<eoi>`, several "
        "canvases per encoder pass, next-token loss on the encoder pass, two-pass self-conditioning; from step "
        "27,250 half the steps train on draft states, the first pass's argmax in the noised slots; AdamW, "
        "bf16 autocast; each session's run continues the previous run's state from before its cooldown and "
        "decays the learning rate over its own last part; the live weights or their EMA ship, whichever has "
        "the lower held-out infill loss).",
        f"- Steps {state['step']:,}; tokens processed {state['tokens']:,} (of which supervised "
        f"{state['supervised']:,}); training time {state['seconds'] / 3600:.2f} h on "
        f"{platform.machine()} CPU, 2 cores, shared with development work.",
        "- Reproduce: `python -m training.corpus && python -m training.tokenizer && python -m training.train "
        "--minutes N` (resumes from `runs/dg-tiny/ckpt.pt`, or from these weights when there is none).",
        "",
        "## Sources (all permissive; HumanEval signatures filtered out; exact duplicates removed)",
        "",
        "| source | license |",
        "|---|---|",
        *[f"| {name} | {lic} |" for name, lic in sorted(sources.items())],
        "",
        "## Scores",
        f"The engine denoises {ORDER_TEXT[order]} (`order` in dg.json).",
        "Reproduce with `python -m bench.humaneval_infill --split single,heldout [--sample N]` (HumanEval-",
        "infilling, MIT, pass@1 by executing the tests; held-out single lines of the corpus for the confidence gate;",
        "one-line splits are asked for one line) and, for the rows marked served, `--split single --served`: what",
        "the language server would show with its default settings, after infill's post-processing, with the cursor",
        "at the gap.",
        "",
        "| split | tasks | pass@1 | empty floor | exact match | edit similarity | mean steps | tokens/forward | "
        "ms/task |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, row in report.items():
        if split == "heldout":
            continue
        lines.append(f"| {split} | {row['tasks']} | {row['pass@1']:.2%} | {row['empty_floor_pass@1']:.2%} | "
                     f"{row['exact_match']:.2%} | {row['edit_similarity']:.3f} | {row['mean_steps']} | "
                     f"{row['tokens_per_forward']} | "
                     f"{row['ms_per_task']} |")
    for split, row in report.items():
        if "shown" in row:
            among = "-" if row["pass@1_among_shown"] is None else format(row["pass@1_among_shown"], ".1%")
            lines.append(f"\n{split}: the server showed a completion for {row['shown']:.1%} of the tasks; "
                         f"{among} of those passed.")
    if heldout:
        lines += ["", "Confidence gate on held-out single lines (exact match among shown vs share shown):", "",
                  "| gate on | threshold | shown | exact among shown |", "|---|---|---|---|"]
        lines += [f"| {g['by']} | {g['threshold']} | {g['shown']:.1%} | "
                  f"{'-' if g['precision'] is None else format(g['precision'], '.1%')} |" for g in heldout["gate"]]
    return "\n".join(lines + (defaults(spec) if spec else []) + typing_table(list(typing)) + curve(log)) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/dg-tiny"))
    ap.add_argument("--report", type=Path, action="append", required=True,
                    help="bench/humaneval_infill.py --json output (repeatable; the reports are merged)")
    ap.add_argument("--typing", type=Path, action="append", default=[],
                    help="bench/typing.py --json output with --min-confidence (repeatable: one row per gate)")
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    args = ap.parse_args()

    source = args.run / "export"
    model = TextOnlyDiffusionGemma.from_pretrained(source, dtype=torch.float32)
    state = ModelSpec.read(source).training
    export(model, model.state_dict(), source / "tokenizer.json", PACKAGED, state, dtype=torch.bfloat16)
    report = {}
    for path in args.report:
        report.update(json.loads(path.read_text()))
    config = json.loads((PACKAGED / "config.json").read_text())
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    sources = json.loads((args.corpus / "sources.json").read_text())
    log_path = args.run / "log.jsonl"
    log = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    old_card = PACKAGED / "MODEL_CARD.md"
    if log and old_card.exists():
        log = earlier_rows(old_card.read_text(), log[0]["step"]) + log
    (PACKAGED / "MODEL_CARD.md").write_text(card(state, sources, report, report.get("heldout"), config,
                                                 n_params, log, DECODING_ORDER,
                                                 [json.loads(path.read_text()) for path in args.typing],
                                                 ModelSpec.read(PACKAGED)))
    print(f"packaged {n_params / 1e6:.2f}M parameters into {PACKAGED}")


if __name__ == "__main__":
    main()
