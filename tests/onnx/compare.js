// compare.js: an exported model in ONNX Runtime against `onecycle predict` (tests/onnx/run.sh).
//
// usage: node tests/onnx/compare.js MODEL.onnx TEST_BATCH.bin PREDICT.csv NAME
// PREDICT.csv is `onecycle predict CKPT --index ... --top 10 --csv --logits`: rows
// test[i],label,class1,prob1,...,class10,prob10,logit_airplane,...,logit_truck. Each
// test-set image i is read from TEST_BATCH.bin (CIFAR-10's records: a label byte, then
// 3 x 1024 bytes, R, G, B planes), given to the model as its bytes in float32 ("pixels",
// (N, 3, 32, 32), 0..255), and every class's probability must agree with predict's to 1e-5
// (predict prints 6 decimals: rounding adds at most 5e-7), the logits to 1e-4 relative
// (of max(1, |logit|)).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

const PROB_TOL = 1e-5, LOGIT_TOL = 1e-4, CLASSES = 10, IMAGE = 3 * 32 * 32;

async function main() {
    const [modelPath, batchPath, csvPath, name] = process.argv.slice(2);
    const lines = fs.readFileSync(csvPath, 'utf8').trim().split('\n');
    const header = lines[0].split(',');
    const classNames = header.slice(2 + 2 * CLASSES).map((h) => h.replace(/^logit_/, ''));
    if (classNames.length !== CLASSES) throw new Error(`${csvPath}: expected --top 10 --csv --logits columns`);
    const rows = lines.slice(1).map((line) => {
        const f = line.split(',');
        const index = Number(/^test\[(\d+)\]$/.exec(f[0])[1]);
        const prob = new Array(CLASSES);
        for (let k = 0; k < CLASSES; k++) prob[classNames.indexOf(f[2 + 2 * k])] = Number(f[3 + 2 * k]);
        const logits = f.slice(2 + 2 * CLASSES).map(Number);
        return { index, prob, logits };
    });
    const batch = fs.readFileSync(batchPath);
    const pixels = new Float32Array(rows.length * IMAGE);
    rows.forEach((r, n) => {
        const at = r.index * (1 + IMAGE) + 1;
        for (let j = 0; j < IMAGE; j++) pixels[n * IMAGE + j] = batch[at + j];
    });
    const session = await ort.InferenceSession.create(modelPath);
    const out = await session.run({ pixels: new ort.Tensor('float32', pixels, [rows.length, 3, 32, 32]) });
    const prob = out.probabilities.data, logits = out.logits.data;
    let worstProb = 0, worstLogit = 0, bad = 0;
    rows.forEach((r, n) => {
        for (let k = 0; k < CLASSES; k++) {
            const dp = Math.abs(prob[n * CLASSES + k] - r.prob[k]);
            const dl = Math.abs(logits[n * CLASSES + k] - r.logits[k]) / Math.max(1, Math.abs(r.logits[k]));
            worstProb = Math.max(worstProb, dp);
            worstLogit = Math.max(worstLogit, dl);
            if (!(dp <= PROB_TOL) || !(dl <= LOGIT_TOL)) {
                if (bad++ < 5)
                    console.log(`onnx-test ${name}: test[${r.index}] ${classNames[k]}: ONNX Runtime p ${prob[n * CLASSES + k]} ` +
                                `logit ${logits[n * CLASSES + k]}, predict p ${r.prob[k]} logit ${r.logits[k]}`);
            }
        }
    });
    console.log(`onnx-test ${name}: ${rows.length} images, largest difference: probability ${worstProb.toExponential(2)}, ` +
                `logit ${worstLogit.toExponential(2)} (relative)${bad ? `; ${bad} values off` : ''}`);
    process.exit(bad || rows.length === 0 ? 1 : 0);
}

main().catch((err) => {
    console.error(`onnx-test: ${err.message}`);
    process.exit(1);
});
