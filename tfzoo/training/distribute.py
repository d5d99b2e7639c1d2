"""Where training runs: a `tf.distribute` strategy, and the number format.

`tfzoo train --strategy NAME` picks one of TensorFlow's strategies; models,
optimizers and metrics are then created inside `strategy.scope()` and
`model.fit` splits every batch across the replicas:

    default      one device (the CPU, or the one GPU)
    mirrored     `MirroredStrategy`: all GPUs of this machine (or, with
                 `split_cpu(n)`, n logical CPU devices, to try it on a laptop)
    multiworker  `MultiWorkerMirroredStrategy`: several machines, described
                 by the `TF_CONFIG` environment variable
    tpu          `TPUStrategy` on a Cloud TPU (`--tpu ADDRESS`)
    auto         tpu if one is found, mirrored if there are several GPUs,
                 else default

Example:
>>> strategy = make_strategy("auto")
>>> with strategy.scope():
...     model = build_model("gpt-tiny", vocabulary_size=65)
...     model.compile(...)
>>> model.fit(dataset.batch(32 * strategy.num_replicas_in_sync))
"""

import contextlib
import hashlib
import json
import os
import socket

import tensorflow as tf

from tfzoo.choices import PRECISIONS, STRATEGIES, check_choice


def split_cpu(count):
    """Splits the CPU into `count` logical devices (for `mirrored`).

    Must run before TensorFlow starts its runtime (before the first op).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise ValueError(
            "the CPU can only be split before TensorFlow starts; "
            f"call split_cpu first ({error})") from None


def make_strategy(name="auto", tpu=None):
    """The `tf.distribute.Strategy` called `name` (see the module docstring).

    Call it first: `multiworker`, `tpu` and a split CPU must be set up
    before TensorFlow runs anything else.

    Raises:
        ValueError: an unknown name, a malformed `TF_CONFIG`, a TPU that
            cannot be found.
    """
    check_choice("strategy", name, STRATEGIES)
    if tpu and name not in ("tpu", "auto"):
        raise ValueError(f"--tpu needs --strategy tpu, not {name}")
    if name == "auto":
        if tpu or _on_tpu_machine():
            return _tpu_strategy(tpu)
        if len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU")
        if not devices:  # CPU-only: every logical CPU device is a replica
            devices = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        read_tf_config()
        return MultiWorkerStrategy()
    return _tpu_strategy(tpu)


def read_tf_config():
    """The cluster in `TF_CONFIG`, checked; `ValueError` names the problem.

    Each machine of a cluster sets the same `cluster` and its own `task`:

        {"cluster": {"worker": ["host1:12345", "host2:12345"]},
         "task": {"type": "worker", "index": 0}}
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError("--strategy multiworker needs the TF_CONFIG "
                         "environment variable (see docs/distributed.md)")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError('TF_CONFIG needs a "cluster" mapping job names to '
                         'lists of "host:port" addresses')
    for job, addresses in cluster.items():
        if not (isinstance(addresses, list) and addresses and all(
                isinstance(a, str) and a.rpartition(":")[2].isdigit()
                for a in addresses)):
            raise ValueError(f'TF_CONFIG cluster job "{job}" must be a list '
                             f'of "host:port" addresses, got {addresses!r}')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError('TF_CONFIG needs a "task" with a "type" that is a '
                         f"job of its cluster ({', '.join(cluster)})")
    index = task.get("index")
    if not (isinstance(index, int) and 0 <= index < len(cluster[task["type"]])):
        raise ValueError(f'TF_CONFIG task index {index!r} is not a position '
                         f'in its "{task["type"]}" list')
    return config


def localhost_tf_configs(count):
    """`TF_CONFIG` values for a cluster of `count` workers on this machine,
    on free ports: one per worker process, to try `multiworker` locally.

    Example:
    >>> first, second = localhost_tf_configs(2)
    >>> json.loads(second)["task"]
    {'type': 'worker', 'index': 1}
    """
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    workers = [f"localhost:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": {"worker": workers},
                        "task": {"type": "worker", "index": i}})
            for i in range(count)]


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` that Keras 3's `model.fit` can use.

    Keras 3.15 reduces a nested structure (the first batch) and scalar
    metrics with `axis=0` through `strategy.reduce`, which the multi-worker
    strategy rejects (keras-team/keras#20585). This `reduce` takes nested
    values one by one and reduces scalars across replicas only.
    """

    def reduce(self, reduce_op, value, axis):
        def reduce_one(tensor):
            scalar = getattr(tensor, "shape", None) is not None and (
                tensor.shape.rank == 0)
            return super(MultiWorkerStrategy, self).reduce(
                reduce_op, tensor, None if scalar else axis)

        return tf.nest.map_structure(reduce_one, value)


def is_chief(strategy):
    """Whether this process writes the run's files (checkpoints, logs,
    exports): the `chief` task of a cluster, else worker 0; always true
    outside a cluster."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def is_default(strategy):
    """Whether `strategy` is TensorFlow's default: one device, no scope."""
    return (strategy is tf.distribute.get_strategy()
            and not tf.distribute.has_strategy())


def distribute_data(dataset):
    """`dataset` set up for splitting among workers: each worker reads
    every element and keeps its share of each batch (our datasets come
    from memory, not files, so there are no files to divide)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)


def check_workers_agree(strategy, first_epoch, run_dir):
    """`ValueError` unless every worker of a cluster resumes at the same
    epoch, i.e. sees the same backup: the run folder must be one folder
    that all machines share (e.g. over NFS)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    # (sum x)^2 == n * sum x^2 exactly when all n values x are equal.
    total, squares = _sum_over_replicas(strategy,
                                        [first_epoch, first_epoch ** 2])
    if total * total != squares * strategy.num_replicas_in_sync:
        raise ValueError(
            f"the workers see different backups in {run_dir} (this one "
            f"resumes at epoch {first_epoch + 1}): to resume, all workers "
            "need the same run folder on shared storage")


def wait_for_each_other(strategy):
    """Returns once every worker of a cluster has called it; at once
    outside a cluster."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _sum_over_replicas(strategy, [1])


def _sum_over_replicas(strategy, values):
    """The sums of the integers `values` over all replicas: a collective
    op, so every worker of a cluster must call it."""
    per_replica = strategy.run(lambda: tf.constant(values, tf.int64))
    return strategy.reduce("SUM", per_replica, axis=None).numpy()


def worker_name(strategy):
    """`"worker 1"` (the task type and index of this process)."""
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type} {resolver.task_id}"


def weights_digest(model):
    """SHA-256 of the model's weights: equal on all workers of a cluster
    that trained in step."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()


def describe(strategy):
    """The strategy and its replicas, in words: `"one device"` for the
    default strategy, else e.g. `"MirroredStrategy with 2 replicas"`."""
    kind = type(strategy).__name__
    replicas = strategy.num_replicas_in_sync
    if kind == "_DefaultDistributionStrategy":
        return "one device"
    return f"{kind} with {replicas} replica" + ("" if replicas == 1
                                                 else "s")


def global_batch_size(per_replica, replicas, global_size=None):
    """The batch of one training step across all replicas.

    Args:
        per_replica: int, the batch each replica computes.
        replicas: int, `strategy.num_replicas_in_sync`.
        global_size: int or None; if given it wins over `per_replica` and
            must divide evenly among the replicas.
    """
    if global_size is None:
        return per_replica * replicas
    if global_size % replicas:
        raise ValueError(f"global batch {global_size} does not divide among "
                         f"{replicas} replicas; use a multiple of {replicas}")
    return global_size


def precision_name(precision):
    """`precision`, if it is one of `PRECISIONS`; else `ValueError`."""
    check_choice("precision", precision, PRECISIONS)
    return precision


def check_precision(precision):
    """`ValueError` unless this machine computes in `precision` natively.

    float16 needs a GPU of compute capability 7.0 or more; bfloat16 a TPU,
    a GPU of compute capability 8.0 or more, or a CPU with bfloat16
    instructions (AVX512_BF16 or AMX). Elsewhere TensorFlow would emulate
    them, slower than float32.
    """
    if precision_name(precision) == "float32" or (
            tf.config.list_logical_devices("TPU")):
        return
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get(
        "compute_capability", (0, 0)) for gpu in gpus]
    needed = (7, 0) if precision == "mixed_float16" else (8, 0)
    if gpus:
        if min(capabilities) >= needed:
            return
        raise ValueError(f"{precision} needs GPUs of compute capability "
                         f"{needed[0]}.{needed[1]} or more; these have "
                         f"{min(capabilities)}")
    if precision == "mixed_float16":
        raise ValueError("mixed_float16 needs a GPU; on CPUs and TPUs use "
                         "mixed_bfloat16")
    if not _cpu_has_bfloat16():
        raise ValueError("mixed_bfloat16 needs a CPU with AVX512_BF16 or "
                         "AMX instructions (or a TPU or recent GPU); this one "
                         "would emulate it, slower than float32")


@contextlib.contextmanager
def precision_policy(precision):
    """Builds models inside the block with Keras dtype policy `precision`.

    Layers then compute in float16 or bfloat16 and keep float32 weights;
    tfzoo's models keep their logits (and so the softmax and the loss) in
    float32, and `compile` adds loss scaling for float16.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _cpu_has_bfloat16():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _on_tpu_machine():
    """A Cloud TPU VM (TPU devices under /dev) or a `TPU_NAME` to reach."""
    return bool(os.environ.get("TPU_NAME")) or os.path.exists("/dev/accel0") \
        or os.path.exists("/dev/vfio/0")


def _tpu_strategy(address):
    """`TPUStrategy` on the TPU at `address` (a name, `grpc://host:port`, or
    `local`/None on a TPU VM), connected and initialized."""
    if address and address.startswith("grpc://"):
        host, _, port = address[len("grpc://"):].rpartition(":")
        try:
            socket.getaddrinfo(host, None)
        except OSError:
            raise ValueError(f"--tpu {address}: the host {host} does not "
                             "resolve") from None
        try:  # TensorFlow would wait for it without end
            socket.create_connection((host, int(port)), timeout=10).close()
        except (OSError, ValueError):
            raise ValueError(f"--tpu {address}: nothing answers at "
                             f"{host}:{port}") from None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=address or "local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except Exception as error:  # the resolver raises many kinds
        message = str(error).strip().splitlines()[0] if str(error) else ""
        raise ValueError(f"no TPU found at --tpu {address or 'local'}: "
                         f"{type(error).__name__} {message}") from None
    return tf.distribute.TPUStrategy(resolver)


class WorkerLost(RuntimeError):
    """Another worker of the cluster stopped answering."""


@contextlib.contextmanager
def reporting_lost_workers(strategy):
    """Turns the errors a cluster raises when a worker dies into
    `WorkerLost`, with what to do next.

    A worker that dies closes its connections: the others' collective ops
    fail within seconds with `UnavailableError`. A machine that vanishes
    without closing them is caught by the strategy's health checks.
    """
    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError)
    try:
        yield
    except lost as error:
        if not isinstance(strategy,
                          tf.distribute.MultiWorkerMirroredStrategy):
            raise
        first_line = (error.message or "").strip().splitlines()[:1]
        raise WorkerLost(
            "lost contact with another worker of the cluster "
            f"({type(error).__name__}: {' '.join(first_line)}). Restart "
            "every worker with the same command to resume from the last "
            "backup") from None
