// The statistics page: labels per labeller, agreement, reward-model accuracy (refreshes).
"use strict";

function percent(x) { return x === null || x === undefined || Number.isNaN(x) ? "n/a" : `${(100 * x).toFixed(1)}%`; }

function accuracyLine(name, record) {
  return `${name}: ${percent(record.accuracy)} on ${record.labels} strict labels (${record.source})`;
}

async function load() {
  const stats = await (await fetch("/api/stats")).json();
  document.getElementById("summary").textContent = `${stats.decisions} decisions on ${stats.pairs} pairs.`;
  const body = document.querySelector("#labellers tbody");
  body.replaceChildren(...Object.entries(stats.labellers).map(([name, counts]) => {
    const row = document.createElement("tr");
    for (const value of [name, counts.left, counts.right, counts.equal, counts.skip]) {
      const cell = document.createElement("td"); cell.textContent = value; row.append(cell);
    }
    return row;
  }));
  const a = stats.agreement;
  document.getElementById("agreement").textContent = a.pairs
    ? `${percent(a.agreement)} of labeller pairs agree, over ${a.pairs} pairs labelled by two or more people.`
    : "No pair has two labellers yet.";
  const rm = stats.reward_model, lines = [];
  if (rm.trainer) lines.push(accuracyLine("last training", rm.trainer));
  if (rm.live) lines.push(accuracyLine("now", rm.live));
  document.getElementById("accuracy").textContent = lines.join(" | ") || "No reward model yet.";
}
load(); setInterval(load, 5000);
