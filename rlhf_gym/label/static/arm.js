// Canvas replay of two arm clips in sync: stick figure (bodies to parents), fingertip trail,
// target ball, and their shadows on the table for depth. Frames come from the server
// (rlhf_gym/label/clips.py): points[t] = body positions then the fingertip, in metres.
"use strict";

const ArmView = (() => {
  const YAW = (-140 * Math.PI) / 180, PITCH = (28 * Math.PI) / 180;
  const SCALE = 480, FPS = 20, HOLD_FRAMES = 10; // 0.5x real time (dt = 0.02 s), then a pause
  let clips = null, frame = 0, timer = null;

  function project(canvas, p) {
    const x = p[0] * Math.cos(YAW) - p[1] * Math.sin(YAW);
    const depth = p[0] * Math.sin(YAW) + p[1] * Math.cos(YAW);
    const y = p[2] * Math.cos(PITCH) - depth * Math.sin(PITCH);
    return [canvas.width / 2 + SCALE * x, canvas.height * 0.8 - SCALE * y];
  }

  function line(ctx, a, b, width, color, dash) {
    ctx.beginPath(); ctx.setLineDash(dash || []); ctx.lineWidth = width; ctx.strokeStyle = color;
    ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke(); ctx.setLineDash([]);
  }

  function dot(ctx, p, radius, color) {
    ctx.beginPath(); ctx.fillStyle = color; ctx.arc(p[0], p[1], radius, 0, 2 * Math.PI); ctx.fill();
  }

  function drawTable(canvas, ctx) {
    for (let i = -6; i <= 6; i++) {
      const v = i / 10;
      line(ctx, project(canvas, [v, -0.6, 0]), project(canvas, [v, 0.6, 0]), 1, "#e2e2de");
      line(ctx, project(canvas, [-0.6, v, 0]), project(canvas, [0.6, v, 0]), 1, "#e2e2de");
    }
  }

  function draw(canvas, clip, t) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawTable(canvas, ctx);
    const points = clip.points[t], tip = points[points.length - 1], target = clip.target[t];
    const ground = (p) => project(canvas, [p[0], p[1], 0]);
    line(ctx, ground(target), project(canvas, target), 1, "#d66", [3, 3]);
    dot(ctx, ground(target), 4, "#e7b4b4");
    dot(ctx, ground(tip), 4, "#b9c4d6");
    for (let s = 1; s <= t; s++) { // the fingertip's path so far
      const a = clip.points[s - 1], b = clip.points[s];
      line(ctx, project(canvas, a[a.length - 1]), project(canvas, b[b.length - 1]), 2, "#9bc");
    }
    clip.parents.forEach((parent, i) => {
      const from = parent < 0 ? [points[i][0], points[i][1], 0] : points[parent];
      line(ctx, project(canvas, from), project(canvas, points[i]), 7, "#445");
      dot(ctx, project(canvas, points[i]), 4.5, "#889");
    });
    line(ctx, project(canvas, points[points.length - 2]), project(canvas, tip), 4, "#445");
    dot(ctx, project(canvas, target), 9, "#d33");
    dot(ctx, project(canvas, tip), 5, "#27c");
  }

  function tick() {
    const steps = clips[0].points.length;
    const t = Math.min(frame, steps - 1);
    draw(document.getElementById("left-clip"), clips[0], t);
    draw(document.getElementById("right-clip"), clips[1], t);
    document.getElementById("frame").textContent = `${t + 1} / ${steps}`;
    frame = (frame + 1) % (steps + HOLD_FRAMES);
  }

  return {
    show(left, right) { // draws the first frame now, then plays both clips on one clock
      clips = [left, right]; frame = 0; tick();
      if (timer === null) timer = setInterval(tick, 1000 / FPS);
    },
    replay() { frame = 0; },
    stop() { if (timer !== null) clearInterval(timer); timer = null; clips = null; },
  };
})();
