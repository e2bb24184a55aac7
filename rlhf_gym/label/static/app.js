// The labelling page: one pair at a time, keyboard first. Each key press POSTs one label and
// the answer carries the next pair, so a label costs one round trip. window.labelTimes holds
// keypress-to-next-pair-drawn times (ms) for benchmarks/label_latency.py.
"use strict";

const KEYS = {
  ArrowLeft: "left", "1": "left", ArrowRight: "right", "2": "right",
  ArrowDown: "equal", "3": "equal", s: "skip", S: "skip",
};
const $ = (id) => document.getElementById(id);
let current = null, busy = false;
window.labelTimes = [];

function labeller() { return $("labeller").value.trim(); }

function setState(state) { document.body.dataset.state = state; }

async function call(method, url, body) {
  const response = await fetch(url, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

function show(answer, startedAt) {
  const p = answer.progress;
  $("bar").style.width = p.total ? `${(100 * p.mine) / p.total}%` : "0";
  $("count").textContent = `${p.mine} / ${p.total} (${p.complete} complete)`;
  current = answer.next;
  if (answer.problem) $("error").textContent = answer.problem; // the folder's data is broken
  $("text").hidden = !current || current.kind !== "text";
  $("arm").hidden = !current || current.kind !== "arm";
  if (!current) {
    ArmView.stop();
    $("message").textContent = p.total ? "All done: no pair left for you. New pairs appear by themselves." : "No pairs yet.";
    document.body.dataset.pair = "";
    setState("done");
    setTimeout(() => { if (!current && !busy) refresh(); }, 2000); // the queue may grow
  } else {
    $("message").textContent = "";
    if (current.kind === "text") {
      ArmView.stop();
      $("prompt").textContent = current.prompt.trim();
      $("left-text").textContent = current.left;
      $("right-text").textContent = current.right;
    } else {
      ArmView.show(current.left, current.right);
    }
    document.body.dataset.pair = current.pair;
    setState("ready");
  }
  if (startedAt !== undefined) { // measured once the new pair is painted
    requestAnimationFrame(() => window.labelTimes.push(performance.now() - startedAt));
  }
}

async function act(method, url, body, startedAt) {
  if (busy) return;
  busy = true; setState("busy"); $("error").textContent = "";
  try {
    show(await call(method, url, body), startedAt);
  } catch (err) {
    $("error").textContent = err.message;
    setState(current ? "ready" : "done");
  } finally { busy = false; }
}

function refresh() {
  if (!labeller()) return;
  localStorage.setItem("labeller", labeller());
  act("GET", `/api/next?labeller=${encodeURIComponent(labeller())}`);
}

function choose(choice, startedAt) {
  if (!current || !labeller()) return;
  act("POST", "/api/label", { pair: current.pair, labeller: labeller(), choice }, startedAt);
}

function undo(startedAt) {
  if (labeller()) act("POST", "/api/undo", { labeller: labeller() }, startedAt);
}

document.addEventListener("keydown", (event) => {
  if (event.target === $("labeller")) {
    if (event.key === "Enter") { $("labeller").blur(); refresh(); }
    return;
  }
  if (event.repeat || event.altKey || event.metaKey) return;
  const startedAt = performance.now();
  if (event.key === "u" || event.key === "U" || event.key === "Backspace" ||
      (event.ctrlKey && event.key === "z")) {
    event.preventDefault(); undo(startedAt);
  } else if (event.key === "r" || event.key === "R") {
    ArmView.replay();
  } else if (!event.ctrlKey && KEYS[event.key]) {
    event.preventDefault(); choose(KEYS[event.key], startedAt);
  }
});
document.querySelectorAll("button[data-choice]").forEach((button) =>
  button.addEventListener("click", () => choose(button.dataset.choice, performance.now())));
$("undo").addEventListener("click", () => undo(performance.now()));
$("labeller").addEventListener("change", refresh);

const given = new URLSearchParams(location.search).get("labeller") || localStorage.getItem("labeller");
if (given) { $("labeller").value = given; refresh(); } else { setState("idle"); $("labeller").focus(); }
