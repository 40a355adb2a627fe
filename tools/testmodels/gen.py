#!/usr/bin/python3
"""Generates tiny ONNX models with the exact signatures of the models facelive
loads, whose outputs are known, so tests can check that exactly that comes out
inside the face and nothing changes outside it.

Run with Debian's interpreter (python3-onnx is installed there by make deps):
    /usr/bin/python3 tools/testmodels/gen.py OUTDIR [--slow-rounds N]

Models written (all float32, opset 17):
  dfm.onnx        DeepFaceLive DFM: in_face:0 N x 224 x 224 x 3 (BGR, 0..1) ->
                  out_face_mask:0, out_celeb_face:0, out_celeb_face_mask:0 (NHWC).
                  celeb face = the input with blue and red swapped (BGR -> RGB
                  order, a visible, exact change); both masks = a centred disc
                  of radius 0.35 * size (1 inside, 0 outside).
  dfm_morph.onnx  the same plus morph_value:0 shape (1,): celeb face =
                  swapped input * morph_value (so the morph factor is visible).
  inswapper.onnx  InSwapper: target 1x3x128x128 (RGB 0..1), source 1x512 ->
                  output 1x3x128x128: target + 8 * source[0] on every pixel
                  (clipped to 0..1): source is an L2-normalised 512-vector, so
                  its first value is small; 8x makes the shift visible. The last initializer is the 512 x 512
                  "emap" the source embedding is projected with (identity here).
  arcface.onnx    ArcFace: input.1 1x3x112x112 -> output 1x512: the mean of each
                  RGB channel in positions 0..2, 1 elsewhere (a known embedding).
  wrong.onnx      a valid model with the wrong signature (input "x", 1x3).
  dfm_slow.onnx   dfm.onnx plus N (--slow-rounds, default 1500) dense layers
                  whose result is added times zero: the same output, slowly.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def save(graph, path):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="facelive-testmodels")
    model.ir_version = 8  # what ONNX Runtime 1.30 and onnx 1.12 agree on
    onnx.checker.check_model(model)
    onnx.save(model, path)


def disc(size, radius):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    c = size / 2.0
    return ((x - c) ** 2 + (y - c) ** 2 <= radius ** 2).astype(np.float32)


def dfm(path, size=224, morph=False):
    inputs = [helper.make_tensor_value_info("in_face:0", TensorProto.FLOAT, ["N", size, size, 3])]
    mask = disc(size, 0.35 * size).reshape(1, size, size, 1)
    inits = [
        numpy_helper.from_array(np.array([2, 1, 0], dtype=np.int64), "bgr_to_rgb"),
        numpy_helper.from_array(mask, "mask_const"),
        numpy_helper.from_array(np.array([1, 1, 1, 1], dtype=np.int64), "ones4"),
    ]
    nodes = [
        helper.make_node("Gather", ["in_face:0", "bgr_to_rgb"], ["swapped"], axis=3),
        # Masks follow the batch: N x size x size x 1, built by tiling the constant.
        helper.make_node("Shape", ["in_face:0"], ["in_shape"]),
        helper.make_node("Slice", ["in_shape", "zero1", "one1"], ["n"]),
        helper.make_node("Concat", ["n", "ones3"], ["reps"], axis=0),
        helper.make_node("Tile", ["mask_const", "reps"], ["mask_n"]),
        helper.make_node("Identity", ["mask_n"], ["out_face_mask:0"]),
        helper.make_node("Identity", ["mask_n"], ["out_celeb_face_mask:0"]),
    ]
    inits += [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one1"),
        numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64), "ones3"),
    ]
    if morph:
        inputs.append(helper.make_tensor_value_info("morph_value:0", TensorProto.FLOAT, [1]))
        nodes.append(helper.make_node("Mul", ["swapped", "morph_value:0"], ["out_celeb_face:0"]))
    else:
        nodes.append(helper.make_node("Identity", ["swapped"], ["out_celeb_face:0"]))
    outputs = [
        helper.make_tensor_value_info("out_face_mask:0", TensorProto.FLOAT, ["N", size, size, 1]),
        helper.make_tensor_value_info("out_celeb_face:0", TensorProto.FLOAT, ["N", size, size, 3]),
        helper.make_tensor_value_info("out_celeb_face_mask:0", TensorProto.FLOAT, ["N", size, size, 1]),
    ]
    save(helper.make_graph(nodes, "dfm", inputs, outputs, inits), path)


def slow_dfm(path, size=224, rounds=1500):
    """The test DFM (B and R swapped inside a disc), plus `rounds` dense
    672x672 layers over the input whose result is added times zero: the
    output is the same, but every run costs real work that ONNX Runtime
    cannot fold away (it depends on the input). Decoupling tests use it as a
    model slower than the camera."""
    dfm(path, size)
    model = onnx.load(path)
    g = model.graph
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((3 * size, 3 * size)) / np.sqrt(3 * size)).astype(np.float32)
    g.initializer.extend([
        numpy_helper.from_array(w, "slow_w"),
        numpy_helper.from_array(np.array([-1, 3 * size], dtype=np.int64), "slow_shape"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "slow_zero"),
    ])
    nodes = [helper.make_node("Reshape", ["in_face:0", "slow_shape"], ["slow_0"])]
    for i in range(rounds):
        nodes.append(helper.make_node("MatMul", [f"slow_{i}", "slow_w"], [f"slow_m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"slow_m{i}"], [f"slow_{i + 1}"]))
    nodes += [
        helper.make_node("ReduceMean", [f"slow_{rounds}"], ["slow_mean"], keepdims=0),
        helper.make_node("Mul", ["slow_mean", "slow_zero"], ["slow_nothing"]),
        helper.make_node("Add", ["swapped", "slow_nothing"], ["swapped_slow"]),
    ]
    old = list(g.node)
    last = [n for n in old if n.output[0] == "out_celeb_face:0"]
    last[0].input[0] = "swapped_slow"  # the face output now waits for the slow branch
    del g.node[:]
    g.node.extend([n for n in old if n.output[0] != "out_celeb_face:0"] + nodes + last)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def inswapper(path):
    inputs = [
        helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
        helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "first"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(8.0, dtype=np.float32), "gain"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "lo"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "hi"),
        # Last, as in the real model: the 512 x 512 embedding map.
        numpy_helper.from_array(np.eye(512, dtype=np.float32), "emap"),
    ]
    nodes = [
        helper.make_node("Slice", ["source", "first", "one", "axis1"], ["s0"]),  # 1 x 1
        helper.make_node("Mul", ["s0", "gain"], ["shift"]),
        helper.make_node("Reshape", ["shift", "shape4"], ["shift4"]),
        helper.make_node("Add", ["target", "shift4"], ["shifted"]),
        helper.make_node("Clip", ["shifted", "lo", "hi"], ["output"]),
    ]
    inits.insert(0, numpy_helper.from_array(np.array([1, 1, 1, 1], dtype=np.int64), "shape4"))
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])]
    save(helper.make_graph(nodes, "inswapper", inputs, outputs, inits), path)


def arcface(path):
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])]
    inits = [numpy_helper.from_array(np.ones((1, 509), dtype=np.float32), "rest")]
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["means"], axes=[2, 3], keepdims=0),  # 1 x 3
        helper.make_node("Concat", ["means", "rest"], ["embedding"], axis=1),
    ]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 512])]
    save(helper.make_graph(nodes, "arcface", inputs, outputs, inits), path)


def wrong(path):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])]
    save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "wrong", inputs, outputs), path)


def main():
    args = sys.argv[1:]
    rounds = 1500
    if len(args) == 3 and args[1] == "--slow-rounds" and args[2].isdigit() and int(args[2]) > 0:
        rounds = int(args[2])
    elif len(args) != 1:
        sys.exit("usage: gen.py OUTDIR [--slow-rounds N]")
    out = args[0]
    os.makedirs(out, exist_ok=True)
    dfm(os.path.join(out, "dfm.onnx"))
    dfm(os.path.join(out, "dfm_morph.onnx"), morph=True)
    inswapper(os.path.join(out, "inswapper.onnx"))
    arcface(os.path.join(out, "arcface.onnx"))
    wrong(os.path.join(out, "wrong.onnx"))
    slow_dfm(os.path.join(out, "dfm_slow.onnx"), rounds=rounds)
    print("testmodels: wrote dfm.onnx dfm_morph.onnx inswapper.onnx arcface.onnx wrong.onnx dfm_slow.onnx to", out)


if __name__ == "__main__":
    main()
