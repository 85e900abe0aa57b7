#!/usr/bin/env python3
"""Classifies images with an image model served by inferd (or Triton), through
the classification extension; the interface of Triton's image_client:

  image_client.py -m densenet_onnx -c 3 -s INCEPTION [-b BATCH] [-u URL] [-i HTTP|gRPC] FILE|DIR

For each request it prints "Request N, batch size B", then per image
"Image 'F':" and its top-k classes as "value (index) = LABEL".
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def client_module(protocol: str):
    if protocol.lower() == "grpc":
        import tritonclient.grpc as client
    else:
        import tritonclient.http as client
    return client


def model_layout(client, triton, model: str, protocol: str):
    """(input name, output name, dtype, channels, height, width, NHWC?, batching?)."""
    if protocol.lower() == "grpc":
        config = triton.get_model_config(model, as_json=True)["config"]
    else:
        config = triton.get_model_config(model)
    inp, out = config["input"][0], config["output"][0]
    dims = [int(d) for d in inp["dims"]]
    if len(dims) != 3:
        sys.exit(f"error: model '{model}' input '{inp['name']}' must have 3 dims (an image), has {dims}")
    nhwc = inp.get("format") == "FORMAT_NHWC"
    c, h, w = (dims[2], dims[0], dims[1]) if nhwc else dims
    dtype = inp["data_type"].replace("TYPE_", "")
    return inp["name"], out["name"], dtype, c, h, w, nhwc, int(config.get("max_batch_size", 0)) > 0


def preprocess(path: Path, c: int, h: int, w: int, nhwc: bool, scaling: str, dtype: str) -> np.ndarray:
    img = Image.open(path).convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if scaling == "INCEPTION":
        a = a / 127.5 - 1.0
    elif scaling == "VGG":
        a = a - (np.array([123.0, 117.0, 104.0], np.float32) if c == 3 else 128.0)
    if not nhwc:
        a = a.transpose(2, 0, 1)
    return a.astype({"FP32": np.float32, "FP16": np.float16, "UINT8": np.uint8, "INT8": np.int8}.get(dtype, np.float32))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-m", "--model-name", required=True)
    p.add_argument("-x", "--model-version", default="")
    p.add_argument("-c", "--classes", type=int, default=1, help="top-k classes to print")
    p.add_argument("-s", "--scaling", default="NONE", choices=["NONE", "INCEPTION", "VGG"])
    p.add_argument("-b", "--batch-size", type=int, default=1)
    p.add_argument("-u", "--url", default="localhost:8000")
    p.add_argument("-i", "--protocol", default="HTTP", choices=["HTTP", "gRPC", "http", "grpc"])
    p.add_argument("image", help="an image file or a folder of images")
    args = p.parse_args()

    client = client_module(args.protocol)
    triton = client.InferenceServerClient(args.url)
    in_name, out_name, dtype, c, h, w, nhwc, batching = model_layout(client, triton, args.model_name, args.protocol)
    if not batching and args.batch_size != 1:
        sys.exit(f"error: model '{args.model_name}' does not batch; use -b 1")
    path = Path(args.image)
    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    if not files:
        sys.exit(f"error: no images in {path}")
    images = [preprocess(f, c, h, w, nhwc, args.scaling, dtype) for f in files]

    # Whole batches; the last one wraps around to the first images, like Triton's client.
    requests = max(1, -(-len(files) // args.batch_size))
    for r in range(requests):
        idx = [(r * args.batch_size + i) % len(files) for i in range(args.batch_size)]
        batch = np.stack([images[i] for i in idx]) if batching else images[idx[0]]
        inp = client.InferInput(in_name, list(batch.shape), dtype)
        inp.set_data_from_numpy(batch)
        out = client.InferRequestedOutput(out_name, class_count=args.classes)
        result = triton.infer(args.model_name, [inp], model_version=args.model_version, outputs=[out])
        print(f"Request {r + 1}, batch size {args.batch_size}")
        classes = result.as_numpy(out_name).reshape(len(idx), -1)
        for row, i in zip(classes, idx):
            print(f"Image '{files[i]}':")
            for entry in row:
                value, index, *label = entry.decode().split(":", 2)
                print(f"    {float(value):f} ({index}) = {label[0] if label else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
