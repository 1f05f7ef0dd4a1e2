"""Export trained models to share or deploy: ``python3 export.py [--out DIR] [--onnx]``.

Writes weights-only ``.safetensors`` files (the segmenter and the generator: no
discriminators, optimizers or training state), a model card (``model_card.json`` and
``model_card.md``: architecture, trained size, data, budget, validation scores, config,
sha256 of every file) and, with ``--onnx``, both networks as ONNX. ``infer.py``,
``infer_jpgs.py`` and ``app.py`` take the folder as ``--segm-weights DIR --recon-weights DIR``
(``backend=onnxruntime`` runs the ONNX files). ``--int8 --calibrate ROOT`` adds int8 copies of
the ONNX files, statically quantised with activation ranges measured on ROOT's face crops (a
prepared root: ``image_masked/``, ``image_binary/``, ``annotations/train.csv`` when present);
``backend=onnxruntime`` then runs those (``onnx_precision=fp32`` for the float ones).

Examples::

    python3 export.py --out exported/celeba
    python3 export.py --segm-weights weights/segm-.../model_segm_25_500.pth \\
        --recon-weights weights/facemask-.../model_25_125.pth --out exported/mine --onnx
    python3 export.py --out exported/light --onnx --int8 --calibrate data/celeba
"""

from __future__ import annotations

import cli

cli.use_project_venv()


def build_parser():
    import argparse

    parser = argparse.ArgumentParser(
        description="Export the two trained models as safetensors with a model card (and ONNX).",
        epilog="Without weights options, the newest run in checkpoint_path ('weights') is used.")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--segm-weights", metavar="FILE", help="segmentation checkpoint")
    parser.add_argument("--recon-weights", metavar="FILE", help="reconstruction checkpoint")
    parser.add_argument("--out", metavar="DIR", help="the folder to write (default: exported/RUN, "
                        "RUN the reconstruction checkpoint's run folder)")
    parser.add_argument("--onnx", action="store_true", help="also write both networks as ONNX "
                        "(opset 18, dynamic batch, the trained size)")
    parser.add_argument("--int8", action="store_true", help="with --onnx: also write int8 copies of the "
                        "ONNX files (static QDQ quantisation; needs --calibrate)")
    parser.add_argument("--calibrate", metavar="ROOT", help="a prepared dataset root whose face crops "
                        "(image_masked/, image_binary/) calibrate --int8 (32 of them, spread over its "
                        "training split)")
    parser.add_argument("--half", action="store_true", help="store the safetensors weights as float16 "
                        "(half the size; outputs differ from the float32 model by rounding)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export in --out")
    parser.add_argument("--config", default="predict", help="config name or YAML path (default: predict)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    from configs import load_config
    from inference.errors import USER_ERRORS
    from modelfiles.card import ExportError, summary
    from modelfiles.export import check_out_folder, export
    from modelfiles.load import resolve_path
    from stages import RECONSTRUCTION, SEGMENTATION

    args = build_parser().parse_intermixed_args(argv)
    cli.setup_logging()
    with cli.one_line_errors(*USER_ERRORS):
        flags = {"segm_weights": args.segm_weights, "recon_weights": args.recon_weights}
        cfg = load_config(args.config, args.overrides, **{k: v for k, v in flags.items() if v})
        segm, recon = resolve_path(cfg, SEGMENTATION), resolve_path(cfg, RECONSTRUCTION)
        out = Path(args.out or Path("exported") / recon.parent.name)
        check_out_folder(out, args.overwrite)
        if args.int8 and not (args.onnx and args.calibrate):
            raise ExportError("--int8 quantises the ONNX files with activation ranges from face crops: "
                              "give --onnx and --calibrate ROOT too")
        card = export(segm, recon, out, onnx=args.onnx, cfg=cfg, half=args.half,
                      int8=Path(args.calibrate) if args.int8 else None)
        print("\n".join(summary(card, out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
