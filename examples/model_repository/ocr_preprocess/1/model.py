"""OCR pipeline, step 1: image bytes -> text_detection's input.

DET_X: the image as PP-OCR's detector wants it: BGR, the longer side at most
960 pixels, both sides rounded to multiples of 32, scaled with ImageNet's
mean and deviation, NCHW. RGB: the decoded image (the crops are cut from it).
RATIO: detector pixels per image pixel, (height, width).
"""
import io

import numpy as np
import triton_python_backend_utils as pb_utils
from PIL import Image

LIMIT = 960
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
MAX_PIXELS = 50_000_000  # a decompression bomb is refused before it is decoded


class TritonPythonModel:
    def execute(self, requests):
        return [self.prepare(r) for r in requests]

    def prepare(self, request):
        data = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy().reshape(-1)[0]
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{image.width}x{image.height} pixels is more than {MAX_PIXELS}")
            rgb = np.asarray(image.convert("RGB"))
        except Exception as e:  # Pillow raises many kinds for a bad file
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(
                f"IMAGE is not an image this pipeline can read: {e}", pb_utils.TritonError.INVALID_ARG))
        h, w = rgb.shape[:2]
        scale = min(1.0, LIMIT / max(h, w))
        dh, dw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        resized = np.asarray(Image.fromarray(rgb).resize((dw, dh), Image.BILINEAR), np.float32)[:, :, ::-1]
        x = ((resized / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("DET_X", np.ascontiguousarray(x)),
            pb_utils.Tensor("RGB", np.ascontiguousarray(rgb)),
            pb_utils.Tensor("RATIO", np.array([dh / h, dw / w], np.float32))])
