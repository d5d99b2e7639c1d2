"""Warm-up requests: what TF Serving replays when it loads a version.

    NAME/VERSION/assets.extra/tf_serving_warmup_requests
        a TFRecord of PredictionLog protos (from `tensorflow-serving-api`),
        so that the first user does not wait for graphs to be traced and
        compiled

Each exported module (`TextGenerator`, `Translator`, `ClassifierServer`)
says which requests warm it up (its `warmup_inputs`): for each signature,
one of batch 1 (a short input) and one of batch 4 (short, long and empty
inputs), every input given.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (model_pb2, predict_pb2,
                                     prediction_log_pb2)

WARMUP_FILE = "tf_serving_warmup_requests"

# The texts of the warm-up requests: batch 1 is the first, batch 4 all.
TEXTS = ["ROMEO:", "To be, or not to be, that is the question. " * 12, "",
         "JULIET:"]


def text_batches():
    """The two batches of texts, as numpy object arrays (1 and 4 texts)."""
    return [np.array(TEXTS[:1], object), np.array(TEXTS, object)]


def warmup_requests(calls, name):
    """`PredictionLog`s of `calls` to the model `name`.

    Args:
        calls: list of `(signature name, {input name: numpy value})`.
        name: str, the model's name in the server.
    """
    logs = []
    for signature, inputs in calls:
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
            name=name, signature_name=signature))
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(export_dir, logs):
    """Writes `logs` as `export_dir/assets.extra/tf_serving_warmup_requests`
    (a TFRecord file, one serialized `PredictionLog` per record)."""
    folder = os.path.join(export_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(folder, WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def read_warmup(export_dir):
    """The `PredictionLog`s of an export's warm-up file."""
    path = os.path.join(export_dir, "assets.extra", WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
