#!/usr/bin/env python3
"""Reads the text in an image with PP-OCRv4.

  ocr_client.py [-u URL] [-i HTTP|gRPC] IMAGE        read IMAGE (one line of text)
  ocr_client.py [-u URL] --render "some text"        render the text first, then read it
  ocr_client.py --pipeline IMAGE                     the whole page: every line of text and its box
  ocr_client.py --pipeline --render "line 1\nline 2" [--upside-down]

Without --pipeline, the text_recognition model alone reads one line, and
this client does the rest:

Preprocessing: RGB, height 48 keeping the aspect ratio, width padded to a
multiple of 8, pixels scaled to [-1, 1]. The answer is CTC-decoded greedily:
class 0 is the blank, classes 1..N are the lines of ppocr_keys_v1.txt.
"""
import argparse
import io
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


def render_page(lines: list, upside_down: bool = False) -> Image.Image:
    """Black lines of text on white, 56 pixels apart; turned half a circle if asked."""
    font = ImageFont.load_default(size=36)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(int(measure.textlength(line, font=font)) for line in lines) + 40
    img = Image.new("RGB", (width, 30 + 56 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((20, 15 + 56 * i), line, fill="black", font=font)
    return img.rotate(180) if upside_down else img


def read_page(client, triton, image_bytes: bytes) -> list:
    """(text, [x0, y0, x1, y1], score) of each line the `ocr` ensemble finds."""
    inp = client.InferInput("IMAGE", [1], "BYTES")
    inp.set_data_from_numpy(np.array([image_bytes], dtype=np.object_))
    result = triton.infer("ocr", [inp])
    texts, boxes, scores = (result.as_numpy(n) for n in ("TEXT", "BOXES", "SCORES"))
    return [(t.decode("utf-8"), b.tolist(), float(s)) for t, b, s in zip(texts, boxes, scores)]


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
    parser.add_argument("--pipeline", action="store_true",
                        help="send the image to the ocr ensemble: every line of the page, with its box")
    parser.add_argument("--upside-down", action="store_true", help="with --render: turn the page over")
    parser.add_argument("-u", "--url", default="localhost:8000")
    parser.add_argument("-i", "--protocol", default="HTTP", choices=["HTTP", "gRPC", "http", "grpc"])
    args = parser.parse_args()
    if bool(args.image) == bool(args.render):
        parser.error("give an IMAGE or --render TEXT")
    if args.protocol.lower() == "grpc":
        import tritonclient.grpc as client
    else:
        import tritonclient.http as client

    triton = client.InferenceServerClient(args.url)
    if args.pipeline:
        if args.render:
            page = render_page(args.render.replace("\\n", "\n").split("\n"), args.upside_down)
            buffer = io.BytesIO()
            page.save(buffer, "PNG")
            image_bytes = buffer.getvalue()
            if args.save:
                page.save(args.save)
        else:
            image_bytes = Path(args.image).read_bytes()
        for text, box, score in read_page(client, triton, image_bytes):
            print(f"{text}\t[{box[0]}, {box[1]}, {box[2]}, {box[3]}]\t{score:.3f}")
        return 0
    img = render(args.render) if args.render else Image.open(args.image)
    if args.save:
        img.save(args.save)
    x = preprocess(img)
    inp = client.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = triton.infer(MODEL, [inp])
    keys = KEYS.read_text(encoding="utf-8").split("\n")
    print(ctc_decode(result.as_numpy("softmax_11.tmp_0")[0], keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
