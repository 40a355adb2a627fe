#!/usr/bin/env python3
"""Writes tiny valid ONNX models whose signatures are NOT BlazeFace's, for
the detector's error tests (engine/detect/blazeface_test.go runs this).

    python3 gen_models.py OUTDIR

wrong_names.onnx  Identity: "image" float32 [1,3,128,128] -> "scores"
wrong_shape.onnx  BlazeFace's names, but an NCHW input [1,3,128,128] and
                  outputs of the wrong shape (all Identity of the input)

Needs Debian's python3-onnx (make deps installs it).
"""
import os
import sys

import onnx
from onnx import TensorProto, helper


def save(path, inputs, outputs, nodes):
    graph = helper.make_graph(nodes, "not_blazeface", inputs, outputs)
    # IR 8 / opset 13: old enough for every ONNX Runtime we support.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="facelive-testdata")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    shape = [1, 3, 128, 128]
    save(os.path.join(out, "wrong_names.onnx"),
         [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
         [helper.make_tensor_value_info("scores", TensorProto.FLOAT, shape)],
         [helper.make_node("Identity", ["image"], ["scores"])])
    names = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"]
    save(os.path.join(out, "wrong_shape.onnx"),
         [helper.make_tensor_value_info("input:0", TensorProto.FLOAT, shape)],
         [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in names],
         [helper.make_node("Identity", ["input:0"], [n]) for n in names])


if __name__ == "__main__":
    main()
