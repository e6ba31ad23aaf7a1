// onnx_export.h: a model in inference form as an ONNX file, for ONNX Runtime and the other
// tools that read ONNX.
//
// The file is an onnx.ModelProto built and serialised with protobuf-c from the official
// schema (onnx.proto of Debian's python3-onnx, compiled by protoc-c at build time into
// build/gen/; see the Makefile). IR version 7, default-domain opset 13.
//
// The graph (every value float32; N, the batch, is free):
//   input  "pixels"        (N, C, H, W): the image's bytes as floats, 0..255, planes in
//                          the order of the data set (CIFAR: R, G, B)
//   output "logits"        (N, classes)
//   output "probabilities" (N, classes): Softmax of the logits
// The normalisation is the graph's first three nodes, as the program does it in float32:
// x = (pixels / 255 - mean[c]) / std[c], with the data set's mean and std (onnx_export_options).
// Then the network, layer by layer as resnet_blocks.c runs it in evaluation:
//   - every batchnorm is a BatchNormalization node in inference form (its running mean and
//     variance, epsilon 1e-5), not folded into the convolution: the initializers are the
//     checkpoint's tensors unchanged, under their PyTorch names (statedict.h:
//     "layer2.0.conv1.weight", "layer2.0.bn1.running_mean", ...);
//   - caffe's convolution biases are the Conv nodes' B input;
//   - the option-A shortcut is Slice (axes 2, 3, step 2, from 0: x[:, :, ::2, ::2]) then Pad
//     of the channel axis with zeros, (cout - cin) / 2 before and the rest after (16 -> 32:
//     8 and 8; 32 -> 64: 16 and 16), the zeros split on both sides as layers.c does;
//   - option B and caffe's projection are Conv (1x1 or 2x2, stride 2, no padding), + a
//     BatchNormalization but in preact;
//   - the head is GlobalAveragePool, Flatten, Gemm (transB = 1) with linear.weight, linear.bias.
#ifndef ONECYCLE_ONNX_EXPORT_H
#define ONECYCLE_ONNX_EXPORT_H
#include "common.h"
#include "resnet.h"
#include <stdint.h>

enum { ONNX_EXPORT_OPSET = 13, ONNX_EXPORT_IR_VERSION = 7 };

// What the graph takes beyond the model: the input normalisation (per channel, the model's
// channels of them) and what the file's metadata records.
typedef struct OnnxExportOptions {
    float mean[3], std[3];
    const char *dataset; // the data set's name (metadata "dataset"; may be NULL)
    const char *version; // the program's version (producer_version; may be NULL)
} OnnxExportOptions;

// The mean and std the data set's images are normalised with (DATASET_*, dataset.h), as its
// loader sets them: CIFAR-10's, CIFAR-100's or Fashion-MNIST's; its name; version.
void onnx_export_options(int dataset, const char *version, OnnxExportOptions *n);
// m's network (evaluation form) with n's normalisation, serialised into *buf (malloc'd;
// free it) of *len bytes. ERR_INPUT for a model the graph cannot express (over 3 channels).
int onnx_export_pack(const ResNet *m, const OnnxExportOptions *n, uint8_t **buf, size_t *len, Err *e);
// The same, written to path (under a temporary name in the same directory, then renamed
// over path). ERR_RUNTIME naming the path for I/O.
int onnx_export_write(const ResNet *m, const OnnxExportOptions *n, const char *path, Err *e);

#endif
