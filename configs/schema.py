"""Every config key, its type, default and meaning: the single source of truth.

The YAML files in this folder only set values; a key not listed here is rejected, so a
typo (``lamda_G``) is an error instead of a silently ignored setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stages import STAGES


@dataclass(frozen=True)
class Key:
    """One config key. ``kind`` is a name from ``TYPES`` (see ``configs.loader``)."""

    kind: str
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None


KEYS: dict[str, Key] = {
    # --- what to run -------------------------------------------------------------------
    "task": Key("str", "facemask", "what the config is for: training segm (stage 1) or facemask "
                "(stage 2), or predict (inference)", (*STAGES, "predict")),
    # --- data --------------------------------------------------------------------------
    "root_dir": Key("str", "data/celeba",
                    "dataset root: a triplet root (facemask) or the images root (segm)"),
    "train_anns": Key("str?", "annotations/train.csv",
                      "training split: CSV of index,masked_path,binary_path, relative to root_dir "
                      "(used when it exists); none: every example of the folders under root_dir"),
    "val_anns": Key("str?", "annotations/val.csv",
                    "validation split under root_dir, like train_anns (used when it exists); none: "
                    "no validation split. Inference on a dataset root, when given: only these names"),
    "val_dir": Key("str?", None, "a separate validation root, when val_anns gives no split"),
    "image_dir": Key("str", "image", "folder of clean faces under a triplet root"),
    "masked_dir": Key("str", "image_masked", "folder of masked faces (NAME_masked.*)"),
    "binary_dir": Key("str", "image_binary", "folder of binary masks (NAME_binary.*)"),
    "img_size": Key("int", 512, "square side every image is resized to; inference: unless set, "
                    "each model runs at the size it was trained at"),
    "segm_size": Key("int?", None, "inference: the side the segmenter runs at, its probabilities "
                     "resized to the generator's crop (none: its trained size, or img_size when set); a "
                     "mask's edge needs less resolution than a mouth (segm_light.yaml trains at 128)"),
    "flip": Key("bool", True, "random horizontal flips during training"),
    "bare_faces": Key("float", 0.0, "segm: the share of training examples shown as the bare face (the "
                      "clean image) with an empty mask, so bare lips and chins are learnt as no mask; "
                      "needs each example's clean image (image_dir)"),
    "augment": Key("str", "none", "training: none; shape: random scale, rotation and shift; full: and "
                   "colour, blur and noise changes; video: shape, and the face shrunk to its size in "
                   "a video frame and JPEG-like compressed there (trainers/augment.py)",
                   ("none", "shape", "full", "video")),
    "cache_images": Key("bool", False,
                        "decode and resize the whole dataset once, before training, and keep "
                        "it in memory (uint8; DataLoader workers share it)"),
    # --- outputs -----------------------------------------------------------------------
    "checkpoint_path": Key("str", "weights", "training: each run writes its checkpoints and logs "
                           "into a folder of its own here; inference: the newest run's are used"),
    "sample_folder": Key("str", "samples", "each run's sample grids {epoch}_{iter}.png go into a "
                         "folder of its own here"),
    "run_name": Key("str?", None, "the run's folder name under checkpoint_path and sample_folder "
                    "(none: STAGE-YYYYmmdd-HHMMSS); an existing run is refused unless resumed"),
    "init_weights": Key("str?", None, "training: start the networks from this checkpoint's weights "
                        "(e.g. a model trained on many faces, to fine-tune on one person's video); "
                        "fresh optimizers, iteration 0"),
    "keep_last": Key("int", 3, "keep only the newest N periodic checkpoints of a run (0: keep all); "
                     "the _best one is always kept"),
    # --- optimisation ------------------------------------------------------------------
    "lr": Key("float", 1e-3, "Adam learning rate (G, D, D2 and the segmenter)"),
    "batch_size": Key("int", 4, "images per step (per process under torchrun)"),
    "num_workers": Key("int", 2, "DataLoader worker processes on CUDA (on the CPU the main "
                       "process loads, leaving the cores to the step)"),
    "step_iters": Key("list[int]", [50000, 75000, 100000],
                      "iterations at which the learning rate is multiplied by gamma"),
    "gamma": Key("float", 0.1, "learning-rate decay factor at each of step_iters"),
    "num_epochs": Key("int", 100, "passes over the training set"),
    "max_iters": Key("int?", None, "stop after this many iterations (none: num_epochs decide)"),
    "seed": Key("int", 0, "seed for weights, shuffling and augmentation"),
    "device": Key("str", "auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"),
    "amp": Key("bool", True, "bf16 autocast on CUDA (on the CPU only with cpu_amp too)"),
    "cpu_amp": Key("bool", False, "bf16 autocast on the CPU as well (with amp): faster on CPUs "
                   "with AVX512-BF16 or AMX (a CPU without bf16 convolutions runs fp32); outputs "
                   "differ from fp32 by about 1e-2"),
    "channels_last": Key("bool", True, "channels_last memory format: training on CUDA, "
                         "inference on CUDA and CPU"),
    "compile": Key("bool", False, "torch.compile the models"),
    "max_nonfinite": Key("int", 10, "stop after this many non-finite losses in a row"),
    # --- logging -----------------------------------------------------------------------
    "visualize_per_iter": Key("int", 500, "write a sample grid every N iterations"),
    "save_per_iter": Key("int", 500, "write a checkpoint every N iterations"),
    "print_per_iter": Key("int", 10, "print the running losses every N iterations"),
    # --- models ------------------------------------------------------------------------
    "arch": Key("str", "unet", "unet: real down/up-sampling; flat: the published "
                "full-resolution topology (slow, for comparison); light: the U-Net with inverted "
                "residual blocks (depthwise 3x3), about 8x fewer FLOPs at base_channels 16 (configs "
                "segm_light, facemask_light)", ("unet", "flat", "light")),
    "base_channels": Key("int", 32, "channels of the first U-Net level (doubles per level)"),
    "depth": Key("int", 4, "U-Net levels above the bottleneck"),
    "fill": Key("str", "white", "facemask: what the generator sees in the hole: white (the published "
                "input), smooth (the colours around it spread inwards) or prior (the training "
                "faces' mean face, moved to the colours just above the hole)", ("white", "smooth", "prior")),
    "residual": Key("bool", False, "facemask: the generator paints a change to the filled hole "
                    "instead of the face from nothing"),
    "d_num_layers": Key("int", 3, "PatchGAN discriminator depth"),
    "d_base_channels": Key("int", 64, "channels of the discriminators' first layer (doubles per "
                           "layer, at most 8x); smaller is cheaper (the demo uses 32)"),
    # --- losses ------------------------------------------------------------------------
    "lambda_G": Key("float", 1.0, "weight of the two adversarial terms in G's loss"),
    "lambda_rc": Key("float", 100.0, "weight of the reconstruction term (SmoothL1 + 1-SSIM)"),
    "lambda_per": Key("float", 10.0, "weight of the perceptual (or feature-matching) term"),
    "lambda_dice": Key("float", 1.0, "segm: weight of the Dice term next to BCE"),
    "thin_weight": Key("float", 0.0, "segm: extra BCE weight of the mask's parts narrower than 5 px "
                       "(ear straps, rims), which the mask's body otherwise outvotes"),
    "hole_weight": Key("float", 0.0, "extra weight of the L1 error inside the mask in the reconstruction "
                       "term (outside it the composite keeps the input anyway)"),
    "perceptual_weights": Key("str?", None, "a local VGG19 ImageNet weights file (torchvision's "
                              "vgg19-dcbb9e9d.pth) for the perceptual term, instead of the torch cache"),
    "real_label": Key("float", 0.9, "LSGAN target for real images (label smoothing)"),
    "fake_label": Key("float", 0.1, "LSGAN target for generated images"),
    "perceptual": Key("str", "auto", "auto: VGG19 ImageNet features, or discriminator feature "
                      "matching with a notice when the weights cannot be had (offline); vgg: VGG19 "
                      "or stop; none: no perceptual term", ("auto", "vgg", "none")),
    # --- audio conditioning (the proposed model) ---------------------------------------
    "audio": Key("str", "none", "none, map (a 5th input channel) or film (bottleneck "
                 "scale and shift)", ("none", "map", "film")),
    "audio_window": Key("float", 1.0, "seconds of audio centred on each frame"),
    "sample_rate": Key("int", 16000, "audio is resampled to this rate before features"),
    "n_mels": Key("int", 40, "mel bands of the log-mel spectrogram"),
    "hop_ms": Key("float", 10.0, "spectrogram hop in milliseconds"),
    "win_ms": Key("float", 25.0, "spectrogram analysis (Hann) window in milliseconds"),
    "audio_dim": Key("int", 128, "audio embedding size"),
    # --- inference ---------------------------------------------------------------------
    "segm_weights": Key("str?", None, "segmenter checkpoint, or an exported folder / .safetensors file "
                        "(export.py) (none: newest in checkpoint_path)"),
    "recon_weights": Key("str?", None, "generator checkpoint, or an exported folder / .safetensors "
                         "file (export.py) (none: newest in checkpoint_path)"),
    "backend": Key("str", "torch", "what runs the two networks at inference: torch, or onnxruntime "
                   "(CPU; the weights must be an exported folder with ONNX files: export.py --onnx)",
                   ("torch", "onnxruntime")),
    "onnx_precision": Key("str", "auto", "backend=onnxruntime: fp32 or int8 ONNX files (export.py --onnx "
                          "--int8 --calibrate ROOT); auto: int8 where the export has it",
                          ("auto", "fp32", "int8")),
    "threshold": Key("float", 0.5, "probability above which a pixel is mask"),
    "erode_kernel": Key("int", 3, "side of the square erosion kernel (0: no erosion)"),
    "erode_iters": Key("int", 1, "erosion iterations"),
    "dilate_kernel": Key("int", 7, "side of the square dilation kernel (0: no dilation)"),
    "dilate_iters": Key("int", 1, "dilation iterations"),
    "results_dir": Key("str", "results", "where infer.py and infer_jpgs.py write"),
    "input": Key("str?", None, "infer.py / infer_jpgs.py input: a dataset root, a folder of "
                 "photos, one image or a video (--input overrides it)"),
    "faces": Key("str", "auto", "which parts of a photo are reconstructed: auto: each face found "
                 "(cut, reconstructed, pasted back), else the whole image; all: each face found, "
                 "nothing without one; largest: the largest face only; none: the whole image",
                 ("auto", "all", "largest", "none")),
    "max_pixels": Key("int", 100_000_000, "an input image whose header says more pixels than this is "
                      "skipped before it is decoded (100 megapixels: 300 MB decoded)"),
    "detect_every": Key("int", 3, "video with temporal=off: search for faces every N-th frame (in "
                        "between, the faces found are followed, smoothed over time; temporal=on uses "
                        "temporal_detect_every)"),
    "temporal": Key("str", "on", "video: off: each frame reconstructed on its own; on: held steady "
                    "from frame to frame (crops locked to the face's measured motion, the mask's "
                    "probabilities and the painted pixels carried over, reset at a cut)", ("off", "on")),
    "temporal_mask_decay": Key("float", 0.6, "temporal=on: weight of a face's running mean of the "
                               "mask probabilities against the new frame's (0: the new frame's only)"),
    "temporal_paint_weight": Key("float", 0.8, "temporal=on: weight of the previous frame's painted "
                                 "pixels against the generator's new ones (0: new only)"),
    "temporal_paint_tolerance": Key("float", 20.0, "temporal=on: gray levels; where the new paint "
                                    "differs from the previous by d, the weight falls as "
                                    "exp(-(d/tolerance)^2), so a moving mouth is not held back"),
    "temporal_detect_every": Key("int", 12, "temporal=on: search for faces every N-th frame (in "
                                 "between, each face's crop follows its own measured motion; "
                                 "detect_every applies with temporal=off)"),
    "temporal_whole_every": Key("int", 36, "temporal=on: a search looks at the whole frame (for faces "
                                "coming into view) once N frames have passed since the last whole one; "
                                "the others look only around the faces followed (about a tenth of the "
                                "time at 1280x720)"),
    "temporal_model_every": Key("int", 2, "temporal=on: run the models on a followed face every N-th "
                                "frame (1: every frame); in between, its mask and painted face are "
                                "carried over by its measured motion (an audio model's generator "
                                "runs on every frame)"),
    "temporal_max_gap": Key("float", 0.1, "temporal=on: seconds; a frame shown more than this after "
                            "the one before (a video prepared at a few frames per second, or a "
                            "selection of its frames) starts afresh: nothing is carried over"),
    "temporal_cut": Key("float", 30.0, "temporal=on: mean change in gray levels between "
                        "consecutive frames (shrunk to 64 px wide) above which the shot changed: nothing "
                        "is carried over"),
    "save_masks": Key("bool", False, "inference: also write each predicted mask as "
                      "masks/{name}_mask.png (255 = mask, input resolution)"),
    "identity": Key("bool", True, "infer.py: dlib identity distance to the ground truth "
                    "(costs about a third of a second per 512 px image on a CPU)"),
}
