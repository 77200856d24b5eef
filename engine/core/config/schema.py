"""Typed schemas of the fixed config sections (data, optim, device, train, eval, model); each field documents itself."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[Any, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    kind: str = "",
) -> Any:
    """A dataclass field carrying its user documentation and the allowed values (read by validation and the composer)."""
    meta = {"help": help, "choices": choices, "min": minimum, "max": maximum, "kind": kind}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


#: data.format choices; the engine's DATA_FORMATS registry must hold exactly these (a test checks).
DATA_FORMATS = (
    "gmberton",
    "gsv_cities",
    "msls",
    "cityscapes",
    "gta5",
    "voc",
    "seg_folders",
    "image_folder",
    "cifar10",
    "cifar100",
    "tiny_imagenet",
    "coco",
    "yolo",
    "voc_det",
)


@dataclass
class DataConfig:
    """Where the images come from and how they are read."""

    root: str = setting(
        "",
        "Data set folder (a published layout, see data.format); ~ and $VARS expand. May be empty "
        "for an evaluation-only run (train.max_steps: 0) whose test sets have their own paths.",
        kind="path",
    )
    format: str = setting(
        "auto",
        "Layout of data.root: auto detects it; gmberton, gsv_cities, msls (VPR), cityscapes, "
        "gta5, voc, seg_folders (segmentation), image_folder, cifar10, cifar100, "
        "tiny_imagenet (classification), coco, yolo, voc_det (detection).",
        choices=("auto", *DATA_FORMATS),
    )
    train_dir: str = setting(
        "train",
        "Training split: a folder under data.root for folder layouts (gmberton, "
        "seg_folders, image_folder), the split's name for published data sets "
        "(train, val, trainval for VOC).",
    )
    cities: list = setting(
        [],
        "GSV-Cities / MSLS: the cities to train on (empty: the data set's own training list).",
        kind="str_list",
    )
    workers: int = setting(
        -1,
        "DataLoader worker processes that read, decode and resize images (-1: auto, a share of "
        "the cores, none when the set is read from the cache; 0: in the engine process).",
        minimum=-1,
        maximum=64,
    )
    cache: str = setting(
        "auto",
        "Decoded-image cache, a memory-mapped file under data.cache_dir shared by every "
        "process: memmap, off, or auto (memmap for sets under 512 MB at training size, "
        "like the demos). Never written into the data folder.",
        choices=("auto", "off", "memmap"),
    )
    cache_dir: str = setting(
        "",
        "Folder of the decoded-image cache (empty: $LABCONSOLE_DATA_CACHE or ~/.cache/labconsole/images).",
        kind="path",
    )
    train_resize: Any = setting(
        None,
        "Segmentation on large images: resize each training image to fit this [H, W] "
        "(aspect kept) times a random data.scale_range ratio, then take a random "
        "model.image_size crop (e.g. [1024, 2048] with crops of [512, 1024]); null: "
        "resize straight to model.image_size.",
        kind="size",
    )
    scale_range: list = setting(
        [1.0, 1.0],
        "Random resize ratio range used with data.train_resize, e.g. [0.5, 2.0].",
        kind="float_pair",
    )
    synthetic: bool = setting(
        False, "Make the embedded synthetic data set of the task at data.root on first use."
    )
    synthetic_seed: int = setting(0, "Seed of the synthetic city (same seed, same images).", minimum=0)
    synthetic_places: int = setting(1520, "Training places in the synthetic city.", minimum=8)
    place_cell_m: float = setting(
        0.0,
        "Group training images into places by UTM cells of this size (0: identical coordinates).",
        minimum=0.0,
    )


@dataclass
class OptimConfig:
    """Optimizer and its per-group learning-rate multipliers."""

    name: str = setting("adamw", "Optimizer.", choices=("adamw", "sgd"))
    lr: float = setting(1e-3, "Base learning rate (the head's group).", minimum=0.0)
    lr_per_img: float = setting(
        0.0, "YOLOX style: when > 0, lr = lr_per_img × train.batch_size (0: use lr).", minimum=0.0
    )
    weight_decay: float = setting(1e-4, "Decoupled weight decay (AdamW) or L2 (SGD).", minimum=0.0)
    momentum: float = setting(0.9, "SGD momentum; AdamW beta1.", minimum=0.0, maximum=1.0)
    nesterov: bool = setting(False, "SGD: Nesterov momentum (YOLOX and many detectors train with it).")
    backbone_lr_mult: float = setting(1.0, "Backbone LR = lr × this.", minimum=0.0)
    loss_lr_mult: float = setting(
        1.0, "LR multiplier of the loss's own weights (CosFace/ArcFace class centres).", minimum=0.0
    )


@dataclass
class DeviceConfig:
    """Where and how the model runs."""

    name: str = setting(
        "auto", "Device: cpu, cuda, or auto (cuda when available).", choices=("cpu", "cuda", "auto")
    )
    amp: str = setting(
        "off",
        "Mixed precision on CUDA (ignored on CPU, where it is slower).",
        choices=("off", "bf16", "fp16"),
    )
    threads: int = setting(0, "CPU threads for torch (0: all cores).", minimum=0)
    channels_last: bool = setting(False, "Use the channels_last memory format (faster convolutions).")
    processes: int = setting(
        1,
        "Training processes: N > 1 trains with DistributedDataParallel (torchrun locally), one "
        "GPU each on cuda (NCCL), CPU processes over gloo on cpu. Each process draws its "
        "own batches, so the global batch is N × train.batch_size: scale optim.lr (or use "
        "optim.lr_per_img). A fixed number, not 'all GPUs': the global batch, and so the "
        "results, should not depend on the machine.",
        minimum=1,
        maximum=1024,
    )
    launcher: str = setting(
        "local",
        "Where the engine runs: local (a detached process on this machine) or slurm "
        "(submitted with submitit from a login node; the run is queued until it starts). "
        "LABCONSOLE_SLURM_CLUSTER=local runs the slurm path on this machine (tests).",
        choices=("local", "slurm"),
    )
    slurm_partition: str = setting("", "Slurm partition (empty: the cluster's default).")
    slurm_time_min: int = setting(
        240,
        "Slurm time limit in minutes; the job gets SIGTERM (checkpoint, interrupted) "
        "before it is killed, and `labconsole resume` continues it.",
        minimum=1,
    )
    slurm_gpus_per_node: int = setting(
        0, "GPUs per node to request (0: one per process on cuda or auto, none on cpu).", minimum=0
    )
    slurm_cpus_per_task: int = setting(
        8, "CPU cores per process (data loading and augmentation run there).", minimum=1
    )
    slurm_mem_gb: int = setting(0, "Memory per node in GB (0: the partition's default).", minimum=0)
    slurm_account: str = setting("", "Slurm account to charge (empty: your default).")
    slurm_qos: str = setting("", "Slurm quality of service (empty: the default).")
    slurm_folder: str = setting(
        "",
        "Folder for submitit's job files and Slurm logs (empty: <run folder>/slurm); "
        "must be on a file system the compute nodes share.",
        kind="path",
    )


@dataclass
class TrainConfig:
    """The training loop."""

    max_steps: int = setting(
        1000, "Optimizer steps (0: evaluate only); train.max_epochs, when set, replaces it.", minimum=0
    )
    max_epochs: float = setting(
        0.0,
        "Passes over the training set (0: unused, train.max_steps counts): converted to steps once when the "
        "run starts, at the training set's size over the images a step takes; check shows the count.",
        minimum=0.0,
        maximum=1e9,
    )
    places_per_batch: int = setting(32, "VPR: places in each batch.", minimum=1)
    images_per_place: int = setting(4, "VPR: images of each place in a batch.", minimum=1)
    batch_size: int = setting(
        0, "Images per step (0: places_per_batch × images_per_place for VPR).", minimum=0
    )
    eval_every: int = setting(0, "Evaluate every N steps (0: only at the start and the end).", minimum=0)
    eval_at_start: bool = setting(True, "Evaluate before the first step (the step-0 baseline).")
    log_every: int = setting(10, "Log scalars every N steps (each log is a CPU-GPU sync point).", minimum=1)
    checkpoint_every: int = setting(
        0,
        "Also save checkpoints/last.pt every N steps (0: only at evaluations, every checkpoint_minutes and the "
        "end).",
        minimum=0,
    )
    checkpoint_minutes: float = setting(
        10.0,
        "Save checkpoints/last.pt after this many minutes of training since the last save, so a crash loses at "
        "most that much (0: off). Saves also happen at every evaluation and at the end.",
        minimum=0.0,
    )
    grad_clip: float = setting(
        0.0, "Clip the gradient norm to this (0: no clipping; the norm is logged either way).", minimum=0.0
    )
    seed: int = setting(0, "Seed of every random generator (data order, init, augmentation).", minimum=0)
    grad_accum_steps: int = setting(1, "Accumulate gradients over N batches per optimizer step.", minimum=1)
    ema_decay: float = setting(
        0.0,
        "Keep an exponential moving average of the weights and evaluate it (0: off; e.g. 0.999).",
        minimum=0.0,
        maximum=0.99999,
    )
    compile: bool = setting(False, "torch.compile the model (worth it on GPUs for long runs; slow to start).")
    feature_cache: str = setting(
        "auto",
        "Cache backbone features once when the backbone never trains and there is "
        "no augmentation (auto: whenever that holds).",
        choices=("auto", "on", "off"),
    )
    nan_policy: str = setting(
        "stop", "A NaN/Inf loss: stop the run (failed), or skip that step and warn.", choices=("stop", "skip")
    )


@dataclass
class EvalConfig:
    """Evaluation: validation and test sets, and metrics."""

    val_sets: list = setting(
        [],
        "Validation sets, written like test_sets: the best checkpoint and every 'best so far' are "
        "chosen on the first one's main metric. Empty: the first test set chooses (check warns).",
        kind="test_sets",
    )
    test_sets: list = setting(
        [],
        "Test sets: [{name, path, split, format}], path relative to data.root (default: "
        "data.root itself); split for published data sets (cityscapes val); format "
        "detected when not given. Reported, never used to choose a checkpoint.",
        kind="test_sets",
    )
    positive_radius_m: float = setting(
        25.0, "A database image within this UTM distance of a query is a positive.", minimum=0.0
    )
    recall_at: list = setting([1, 5, 10, 20], "Recall@N values to report.", kind="int_list")
    batch_size: int = setting(128, "Images per forward pass during evaluation.", minimum=1)
    image_size: Any = setting(
        None,
        "Evaluation resolution [H, W] (null: model.image_size); segmentation scores at "
        "each label's own resolution.",
        kind="size",
    )
    window: Any = setting(
        None,
        "Segmentation: slide a window of this [H, W] over the eval-size image (2/3 stride, "
        "logits averaged) instead of one pass over the whole image.",
        kind="size",
    )
    figures: bool = setting(
        True,
        "Draw qualitative figures at every evaluation (PNGs under <run>/figures/): VPR top-k "
        "retrievals marked right/wrong, segmentation overlays and confusion matrix, "
        "classification confusion matrix and most confused pairs.",
    )
    figure_samples: int = setting(
        4,
        "Sample queries (VPR) or images (segmentation) per figure, the same ones at every evaluation.",
        minimum=1,
        maximum=16,
    )
    figure_top_k: int = setting(
        5, "VPR: retrieved database images shown per sample query.", minimum=1, maximum=10
    )
    score_threshold: float = setting(
        0.05,
        "Detection: boxes scoring below this are dropped before mAP (re-score a checkpoint at another "
        "one with labconsole eval RUN eval.score_threshold=0.3).",
        minimum=0.0,
        maximum=1.0,
    )
    nms_iou: float = setting(
        0.6,
        "Detection: non-maximum suppression merges boxes overlapping more than this IoU.",
        minimum=0.0,
        maximum=1.0,
    )
    max_detections: int = setting(100, "Detection: most boxes kept per image.", minimum=1)


@dataclass
class ModelConfig:
    """Model-level settings (the backbone, aggregator and head are preset sections of their own)."""

    descriptor_dim: int = setting(256, "Output descriptor size of the projector head.", minimum=1)
    image_size: Any = setting([224, 224], "Training resolution [H, W] (an int means square).", kind="size")


@dataclass
class CheckpointConfig:
    """Numbered checkpoints kept besides last.pt and best.pt (for `labconsole eval RUN --checkpoint N`)."""

    keep_every: int = setting(
        0,
        "Keep checkpoints/step_<N>.pt every this many steps (or epochs, see keep_unit); 0: only last and best.",
        minimum=0,
    )
    keep_unit: str = setting("steps", "Unit of keep_every.", choices=("steps", "epochs"))
    max_kept: int = setting(
        5,
        "Most numbered checkpoints kept (the oldest is deleted first); 0: no limit.",
        minimum=0,
    )


TYPED_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "optim": OptimConfig,
    "device": DeviceConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "checkpoint": CheckpointConfig,
}


def defaults_of(schema: type) -> dict[str, Any]:
    """The schema's default values as a plain dict."""
    out = {}
    for f in fields(schema):
        out[f.name] = f.default_factory() if f.default_factory is not MISSING else f.default
    return out


def field_help(schema: type) -> dict[str, str]:
    """Field name -> its one-line help (what the composer shows)."""
    return {f.name: f.metadata.get("help", "") for f in fields(schema)}
