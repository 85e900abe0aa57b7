"""OCR pipeline, step 3: DB post-processing, from text_detection's probability
map to one crop per line of text.

Pixels above 0.3 form regions (8-connected); a region whose mean probability
is at least 0.6 is a piece of text, grown as DB grows its shrunk regions
(by area * 1.5 / perimeter). Pieces that share most of their height and are
close along it are one line. Each line, with a margin, is cut from the
original image and prepared twice: for the recognizer (height 48, the
page's lines padded with PP-OCR's neutral value to the widest, rounded up to
a multiple of 8: wider buckets would let lines of different pages batch, but
on a CPU the recognizer's cost grows with every padded column and a batch
saves nothing, so the padding cost more than it won) and for the direction
classifier (48 x 192, where the crops of many pages do batch).
LINE_BOXES: x0, y0, x1, y1 of each line in the original image, top to bottom.
No text: LINE_BOXES is empty and one blank crop keeps the next steps' shapes.
"""
import numpy as np
import triton_python_backend_utils as pb_utils
from PIL import Image

THRESHOLD, BOX_THRESHOLD, UNCLIP = 0.3, 0.6, 1.5
MARGIN = 0.2       # of a line's height, added around its crop
MAX_LINES = 32     # text_direction's and text_recognition's max_batch_size
REC_HEIGHT, CLS_WIDTH, WIDTH_STEP, MAX_REC_WIDTH = 48, 192, 8, 3200


def regions(bitmap):
    """(x0, y0, x1, y1) of each 8-connected region of `bitmap`, from the runs of
    each row joined with the overlapping runs of the row above (union-find)."""
    parent = []

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    runs, above = [], []
    for y in np.flatnonzero(bitmap.any(axis=1)):
        edges = np.diff(np.concatenate(([0], bitmap[y].view(np.int8), [0])))
        row = []
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            label = len(parent)
            parent.append(label)
            if above and above[0][3] == y - 1:
                for a_start, a_end, a_label, _ in above:
                    if a_start <= end and a_end >= start - 1:  # touching, diagonals included
                        ra, rb = root(a_label), root(label)
                        if ra != rb:
                            parent[rb] = ra
            row.append((start, end, label, y))
            runs.append((y, start, end, label))
        above = row
    boxes = {}
    for y, start, end, label in runs:
        b = boxes.setdefault(root(label), [start, y, end, y + 1])
        b[0], b[2], b[3] = min(b[0], start), max(b[2], end), y + 1
    return list(boxes.values())


def lines_of_text(prob, ratio, height, width):
    bitmap = prob > THRESHOLD
    pieces = []
    for x0, y0, x1, y1 in regions(bitmap):
        w, h = x1 - x0, y1 - y0
        if min(w, h) < 3 or prob[y0:y1, x0:x1][bitmap[y0:y1, x0:x1]].mean() < BOX_THRESHOLD:
            continue
        grow = w * h * UNCLIP / (2 * (w + h))
        pieces.append([x0 - grow, y0 - grow, x1 + grow, y1 + grow])
    lines = []
    for p in sorted(pieces, key=lambda b: b[0]):
        for line in lines:
            shared = min(line[3], p[3]) - max(line[1], p[1])
            if shared > 0.5 * min(line[3] - line[1], p[3] - p[1]) and p[0] - line[2] < p[3] - p[1]:
                line[:] = [min(line[0], p[0]), min(line[1], p[1]), max(line[2], p[2]), max(line[3], p[3])]
                break
        else:
            lines.append(list(p))
    boxes = []
    for x0, y0, x1, y1 in lines:
        x0, x1, y0, y1 = x0 / ratio[1], x1 / ratio[1], y0 / ratio[0], y1 / ratio[0]
        margin = (y1 - y0) * MARGIN
        boxes.append([max(0, int(x0 - margin)), max(0, int(y0 - margin)),
                      min(width, int(np.ceil(x1 + margin))), min(height, int(np.ceil(y1 + margin)))])
    boxes = [b for b in boxes if b[2] - b[0] >= 4 and b[3] - b[1] >= 4]
    boxes.sort(key=lambda b: (b[1], b[0]))
    return boxes[:MAX_LINES]


def normalized(pixels):
    return ((pixels / 255.0 - 0.5) / 0.5).astype(np.float32)


def crops(rgb, boxes):
    rec, cls = [], np.zeros((len(boxes), 3, REC_HEIGHT, CLS_WIDTH), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        line = Image.fromarray(rgb[y0:y1, x0:x1])
        width = min(MAX_REC_WIDTH, max(8, round(line.width * REC_HEIGHT / line.height)))
        rec.append(normalized(np.asarray(line.resize((width, REC_HEIGHT), Image.BILINEAR), np.float32)))
        short = min(CLS_WIDTH, width)
        cls[i, :, :, :short] = normalized(np.asarray(line.resize((short, REC_HEIGHT), Image.BILINEAR),
                                                     np.float32)).transpose(2, 0, 1)
    padded = -(-max(r.shape[1] for r in rec) // WIDTH_STEP) * WIDTH_STEP
    rec_x = np.zeros((len(rec), 3, REC_HEIGHT, padded), np.float32)  # 0 is mid-grey once normalized
    for i, r in enumerate(rec):
        rec_x[i, :, :, :r.shape[1]] = r.transpose(2, 0, 1)
    return rec_x, cls


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            prob = pb_utils.get_input_tensor_by_name(request, "PROB").as_numpy()[0, 0]
            rgb = pb_utils.get_input_tensor_by_name(request, "RGB").as_numpy()
            ratio = pb_utils.get_input_tensor_by_name(request, "RATIO").as_numpy()
            boxes = lines_of_text(prob, ratio, rgb.shape[0], rgb.shape[1])
            if boxes:
                rec_x, cls_x = crops(rgb, boxes)
            else:
                rec_x = np.zeros((1, 3, REC_HEIGHT, WIDTH_STEP), np.float32)
                cls_x = np.zeros((1, 3, REC_HEIGHT, CLS_WIDTH), np.float32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("REC_X", rec_x), pb_utils.Tensor("CLS_X", cls_x),
                pb_utils.Tensor("LINE_BOXES", np.array(boxes, np.int32).reshape(-1, 4))]))
        return responses
