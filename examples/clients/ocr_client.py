#!/usr/bin/env python3
"""Reads the text in an image with the text_recognition model (PP-OCRv4).

  ocr_client.py [-u URL] [-i HTTP|gRPC] IMAGE        read IMAGE (one line of text)
  ocr_client.py [-u URL] --render "some text"        render the text first, then read it

Preprocessing: RGB, height 48 keeping the aspect ratio, width padded to a
multiple of 8, pixels scaled to [-1, 1]. The answer is CTC-decoded greedily:
class 0 is the blank, classes 1..N are the lines of ppocr_keys_v1.txt.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MODEL = "text_recognition"
KEYS = Path(__file__).resolve().parents[1] / "model_repository" / MODEL / "ppocr_keys_v1.txt"


def render(text: str) -> Image.Image:
    font = ImageFont.load_default(size=36)
    width = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)) + 16
    img = Image.new("RGB", (width, 48), "white")
    ImageDraw.Draw(img).text((8, 4), text, fill="black", font=font)
    return img


def preprocess(img: Image.Image) -> np.ndarray:
    img = img.convert("RGB")
    width = max(8, round(img.width * 48 / img.height))
    img = img.resize((width, 48), Image.BILINEAR)
    padded = Image.new("RGB", ((width + 7) // 8 * 8, 48), "white")
    padded.paste(img, (0, 0))
    a = np.asarray(padded, dtype=np.float32) / 255.0
    return ((a - 0.5) / 0.5).transpose(2, 0, 1)[None]


def ctc_decode(probabilities: np.ndarray, keys: list) -> str:
    chars, previous = [], 0
    for k in probabilities.argmax(-1):
        if k != previous and k != 0:
            chars.append(keys[k - 1] if k - 1 < len(keys) else " ")
        previous = k
    return "".join(chars).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", help="image of one line of text")
    parser.add_argument("--render", metavar="TEXT", help="render TEXT instead of reading a file")
    parser.add_argument("--save", metavar="PNG", help="also save the image sent")
    parser.add_argument("-u", "--url", default="localhost:8000")
    parser.add_argument("-i", "--protocol", default="HTTP", choices=["HTTP", "gRPC", "http", "grpc"])
    args = parser.parse_args()
    if bool(args.image) == bool(args.render):
        parser.error("give an IMAGE or --render TEXT")
    if args.protocol.lower() == "grpc":
        import tritonclient.grpc as client
    else:
        import tritonclient.http as client

    img = render(args.render) if args.render else Image.open(args.image)
    if args.save:
        img.save(args.save)
    x = preprocess(img)
    triton = client.InferenceServerClient(args.url)
    inp = client.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = triton.infer(MODEL, [inp])
    keys = KEYS.read_text(encoding="utf-8").split("\n")
    print(ctc_decode(result.as_numpy("softmax_11.tmp_0")[0], keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
