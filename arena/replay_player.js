// The player of an `arena replay --html` page: draws the recorded geoms with WebGL at their
// per-step poses, with a timeline, play/pause, speed, an orbit camera and the HUD.
// Self-contained on purpose: the page must play offline in any browser, so nothing is loaded.
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("replay-data").textContent);
  const N = DATA.frames, M = DATA.moving, HUD = DATA.hud;
  const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

  function floats(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }
  const POSES = floats(DATA.poses), RETURNS = floats(DATA.returns);
  const REWARDS = floats(DATA.rewards), TERMS = floats(DATA.terms);
  const T = HUD.terms.length;

  // ------------------------------------------------------------------ page layout

  const css = `
    html, body { margin: 0; height: 100%; background: #181a22; color: #ebebeb; overflow: hidden;
      font: 14px/1.35 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; }
    #view { position: absolute; left: 0; top: 0; right: 0; bottom: 44px; }
    canvas { width: 100%; height: 100%; display: block; cursor: grab; }
    .panel { position: absolute; background: rgba(10, 12, 20, 0.68); padding: 6px 10px;
      border-radius: 4px; pointer-events: none; }
    #hud { left: 8px; top: 8px; right: 8px; }
    #terms { right: 8px; bottom: 8px; font-size: 12px; }
    #terms td { padding: 0 0 0 14px; text-align: right; font-variant-numeric: tabular-nums; }
    #terms td:first-child { padding: 0; text-align: left; }
    .grey { color: #a0a0aa; } .yellow { color: #fad250; }
    .swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.35em;
      vertical-align: -0.1em; border-radius: 2px; }
    #bar { position: absolute; left: 0; right: 0; bottom: 0; height: 44px; display: flex;
      align-items: center; gap: 10px; padding: 0 10px; background: #0d0f16; box-sizing: border-box; }
    #bar input[type=range] { flex: 1 1 auto; min-width: 80px; }
    #bar button, #bar select { background: #262a36; color: #ebebeb; border: 1px solid #444a5a;
      border-radius: 3px; padding: 3px 9px; font: inherit; }
    #step { min-width: 7.5em; text-align: right; font-variant-numeric: tabular-nums; }
    #nogl { position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); }`;
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  document.body.insertAdjacentHTML("beforeend", `
    <div id="view"><canvas id="scene"></canvas>
      <div id="hud" class="panel"></div><div id="terms" class="panel"></div></div>
    <div id="bar">
      <button id="play" title="play / pause (space)">play</button>
      <input id="time" type="range" min="0" max="${N - 1}" value="0" step="1"
        title="timeline (left / right: one step)">
      <span id="step"></span>
      <label>speed <select id="speed" title="speed (+ / -)">${SPEEDS.map((s) =>
        `<option value="${s}"${s === 1 ? " selected" : ""}>${s}x</option>`).join("")}</select></label>
      <label title="the camera follows the robots"><input id="follow" type="checkbox" checked>
        follow</label>
      <button id="reset" title="camera back to its start">camera</button>
    </div>`);
  const $ = (id) => document.getElementById(id);
  const canvas = $("scene"), slider = $("time"), playButton = $("play"), speedSelect = $("speed");

  // ------------------------------------------------------------------ HUD

  function esc(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;" })[c]);
  }
  function rgb(c) {
    return `rgb(${c.slice(0, 3).map((v) => Math.round(255 * v)).join(",")})`;
  }
  function wdl(s) {
    return `${s[0]}-${s[2]}-${s[1]}`;  // wins, losses, draws as W-D-L
  }
  function signed(v, digits) {
    const text = v.toLocaleString("en-US", { minimumFractionDigits: digits,
      maximumFractionDigits: digits });
    return /^-[0.,]*$/.test(text) ? "+" + text.slice(1) : (text[0] === "-" ? "" : "+") + text;
  }
  const aSlot = HUD.a_player === "player_0" ? 0 : 1;
  const sideNames = [0, 1].map((k) => {
    const version = HUD.versions[k] === null ? "" : ` v${HUD.versions[k]}`;
    const colour = HUD.colors[k === 0 ? aSlot : 1 - aSlot];
    return `<span class="swatch" style="background:${rgb(colour)}"></span>` +
      `${k === 0 ? "A" : "B"}: ${esc(HUD.names[k])}${esc(version)} (${esc(HUD.bodies[k])})`;
  });
  const header = `${sideNames[0]} <span class="grey">&nbsp;vs&nbsp;</span> ${sideNames[1]}`;
  const game = HUD.game === undefined ? "" : `game ${HUD.game}${HUD.league ?
    ` of ${esc(HUD.league)}` : ""} &nbsp; `;

  function drawHud(k, playing, speed) {
    const last = k === N - 1;
    const score = last ? HUD.end.score : HUD.score;
    const rounds = last ? HUD.end.rounds_score : HUD.rounds_score;
    const status = playing ? `${speed}x` : "PAUSED";
    let message = "";
    if (last && HUD.end.message) {
      message = `<span class="yellow">${esc(HUD.end.message)}</span>`;
      if (HUD.stored) message += ` <span class="grey">(stored: ${esc(HUD.stored)})</span>`;
    }
    $("hud").innerHTML = `${header}<br>${game}round ${HUD.round + 1}/${HUD.rounds} &nbsp; ` +
      `episode ${HUD.episode + 1}/${HUD.episodes} &nbsp; round score A ${wdl(score)} (W-D-L)` +
      ` &nbsp; rounds A ${wdl(rounds)}<br><span class="${playing ? "grey" : "yellow"}">` +
      `step ${k + 1}/${HUD.max_steps} &nbsp; ${status}</span> &nbsp; ${message}`;
    let rows = `<tr class="grey"><td>reward term</td><td>A</td><td>B</td></tr>`;
    for (let t = 0; t < T; t++) {
      const a = TERMS[(k * 2) * T + t], b = TERMS[(k * 2 + 1) * T + t];
      rows += `<tr><td>${esc(HUD.terms[t].replace(/^reward_/, ""))}</td>` +
        `<td>${signed(a, 2)}</td><td>${signed(b, 2)}</td></tr>`;
    }
    rows += `<tr><td>step reward</td><td>${signed(REWARDS[2 * k], 2)}</td>` +
      `<td>${signed(REWARDS[2 * k + 1], 2)}</td></tr>`;
    rows += `<tr class="yellow"><td>episode return</td><td>${signed(RETURNS[2 * k], 1)}</td>` +
      `<td>${signed(RETURNS[2 * k + 1], 1)}</td></tr>`;
    $("terms").innerHTML = `<table>${rows}</table>`;
    $("step").textContent = `step ${k + 1} / ${N}`;
  }

  // ------------------------------------------------------------------ meshes (local frames)

  function lathe(r, h, stacks, slices, scale) {
    // a capsule of radius r and half-length h along z (a sphere for h = 0), scaled per axis
    const pos = [], nrm = [], idx = [];
    const rings = [];
    for (let i = 0; i <= stacks; i++) rings.push([-Math.PI / 2 + Math.PI / 2 * i / stacks, -h]);
    for (let i = 0; i <= stacks; i++) rings.push([Math.PI / 2 * i / stacks, h]);
    rings.forEach(([phi, z0]) => {
      for (let j = 0; j <= slices; j++) {
        const th = 2 * Math.PI * j / slices;
        const n = [Math.cos(phi) * Math.cos(th), Math.cos(phi) * Math.sin(th), Math.sin(phi)];
        pos.push(r * n[0] * scale[0], r * n[1] * scale[1], (r * n[2] + z0) * scale[2]);
        const m = [n[0] / scale[0], n[1] / scale[1], n[2] / scale[2]];
        const l = Math.hypot(m[0], m[1], m[2]);
        nrm.push(m[0] / l, m[1] / l, m[2] / l);
      }
    });
    for (let i = 0; i + 1 < rings.length; i++) {
      for (let j = 0; j < slices; j++) {
        const a = i * (slices + 1) + j, b = a + slices + 1;
        idx.push(a, b, a + 1, a + 1, b, b + 1);
      }
    }
    return { pos, nrm, idx };
  }

  function cylinder(r, h, slices) {
    const pos = [], nrm = [], idx = [];
    for (let j = 0; j <= slices; j++) {
      const th = 2 * Math.PI * j / slices, c = Math.cos(th), s = Math.sin(th);
      pos.push(r * c, r * s, -h, r * c, r * s, h);
      nrm.push(c, s, 0, c, s, 0);
      if (j < slices) idx.push(2 * j, 2 * j + 2, 2 * j + 1, 2 * j + 1, 2 * j + 2, 2 * j + 3);
    }
    for (const z of [-h, h]) {
      const centre = pos.length / 3;
      pos.push(0, 0, z);
      nrm.push(0, 0, Math.sign(z));
      for (let j = 0; j <= slices; j++) {
        const th = 2 * Math.PI * j / slices;
        pos.push(r * Math.cos(th), r * Math.sin(th), z);
        nrm.push(0, 0, Math.sign(z));
        if (j < slices) {
          const a = centre + 1 + j;
          if (z > 0) idx.push(centre, a, a + 1); else idx.push(centre, a + 1, a);
        }
      }
    }
    return { pos, nrm, idx };
  }

  function box(sx, sy, sz) {
    const pos = [], nrm = [], idx = [];
    const faces = [[0, 1, 2], [0, -1, 2], [1, 1, 0], [1, -1, 0], [2, 1, 1], [2, -1, 1]];
    const half = [sx, sy, sz];
    faces.forEach(([axis, sign]) => {
      const u = (axis + 1) % 3, v = (axis + 2) % 3, base = pos.length / 3;
      for (const [a, b] of [[-1, -1], [1, -1], [1, 1], [-1, 1]]) {
        const p = [0, 0, 0], n = [0, 0, 0];
        p[axis] = sign * half[axis];
        p[u] = a * half[u];
        p[v] = b * half[v] * sign;
        n[axis] = sign;
        pos.push(...p);
        nrm.push(...n);
      }
      idx.push(base, base + 1, base + 2, base, base + 2, base + 3);
    });
    return { pos, nrm, idx };
  }

  function mesh(geom) {
    const s = geom.size;
    switch (geom.type) {
      case "sphere": return lathe(s[0], 0, 10, 20, [1, 1, 1]);
      case "capsule": return lathe(s[0], s[1], 8, 16, [1, 1, 1]);
      case "ellipsoid": return lathe(1, 0, 10, 20, [s[0], s[1], s[2]]);
      case "cylinder": return cylinder(s[0], s[1], 24);
      case "box": return box(s[0], s[1], s[2]);
      case "plane": {
        const w = s[0] > 0 ? s[0] : 50, d = s[1] > 0 ? s[1] : 50;
        return { pos: [-w, -d, 0, w, -d, 0, w, d, 0, -w, d, 0], nrm: [0, 0, 1, 0, 0, 1,
          0, 0, 1, 0, 0, 1], idx: [0, 1, 2, 0, 2, 3] };
      }
      default: return null;
    }
  }

  // ------------------------------------------------------------------ matrices (column-major)

  function poseMatrix(p, o) {
    // position p[o..o+2], unit quaternion (w, x, y, z) at p[o+3..o+6]
    const x = p[o], y = p[o + 1], z = p[o + 2];
    const w = p[o + 3], qx = p[o + 4], qy = p[o + 5], qz = p[o + 6];
    return new Float32Array([
      1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy + w * qz), 2 * (qx * qz - w * qy), 0,
      2 * (qx * qy - w * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz + w * qx), 0,
      2 * (qx * qz + w * qy), 2 * (qy * qz - w * qx), 1 - 2 * (qx * qx + qy * qy), 0,
      x, y, z, 1]);
  }
  function multiply(a, b) {
    const out = new Float32Array(16);
    for (let c = 0; c < 4; c++) {
      for (let r = 0; r < 4; r++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += a[k * 4 + r] * b[c * 4 + k];
        out[c * 4 + r] = v;
      }
    }
    return out;
  }
  function perspective(fovy, aspect, near, far) {
    const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1,
      0, 0, 2 * far * near * nf, 0]);
  }
  function lookAt(eye, target, up) {
    const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    const norm = (a) => { const l = Math.hypot(a[0], a[1], a[2]); return a.map((v) => v / l); };
    const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
      a[0] * b[1] - a[1] * b[0]];
    const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    const zc = norm(sub(eye, target)), xc = norm(cross(up, zc)), yc = cross(zc, xc);
    return new Float32Array([xc[0], yc[0], zc[0], 0, xc[1], yc[1], zc[1], 0,
      xc[2], yc[2], zc[2], 0, -dot(xc, eye), -dot(yc, eye), -dot(zc, eye), 1]);
  }

  // ------------------------------------------------------------------ WebGL

  const VERTEX = `
    attribute vec3 position; attribute vec3 normal;
    uniform mat4 model; uniform mat4 viewProjection;
    varying vec3 worldNormal; varying vec3 worldPosition;
    void main() {
      vec4 world = model * vec4(position, 1.0);
      worldPosition = world.xyz;
      worldNormal = mat3(model) * normal;
      gl_Position = viewProjection * world;
    }`;
  const FRAGMENT = `
    precision mediump float;
    uniform vec4 colour; uniform float checker; uniform vec3 eye;
    varying vec3 worldNormal; varying vec3 worldPosition;
    void main() {
      vec3 n = normalize(worldNormal);
      vec3 light = normalize(vec3(0.3, 0.2, 1.0));
      vec3 toEye = normalize(eye - worldPosition);
      float diffuse = max(dot(n, light), 0.0) * 0.65 + max(dot(n, toEye), 0.0) * 0.25;
      vec3 c = colour.rgb;
      if (checker > 0.0) {
        float k = mod(floor(worldPosition.x / checker) + floor(worldPosition.y / checker), 2.0);
        c *= 0.85 + 0.3 * k;
      }
      float spec = pow(max(dot(reflect(-light, n), toEye), 0.0), 24.0) * 0.25;
      gl_FragColor = vec4(c * (0.3 + diffuse) + spec, 1.0);
    }`;

  const gl = canvas.getContext("webgl", { antialias: true }) ||
    canvas.getContext("experimental-webgl");
  let program = null;
  const drawn = [];
  if (gl) {
    const compile = (type, source) => {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
        throw new Error("shader: " + gl.getShaderInfoLog(shader));
      }
      return shader;
    };
    program = gl.createProgram();
    gl.attachShader(program, compile(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    gl.useProgram(program);
    gl.enable(gl.DEPTH_TEST);  // no face culling: caps and boxes need not agree on winding
    for (const geom of DATA.geoms) {
      const m = mesh(geom);
      if (m === null) continue;
      const interleaved = new Float32Array(m.pos.length * 2);
      for (let v = 0; v < m.pos.length / 3; v++) {
        interleaved.set(m.pos.slice(3 * v, 3 * v + 3), 6 * v);
        interleaved.set(m.nrm.slice(3 * v, 3 * v + 3), 6 * v + 3);
      }
      const vbo = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
      gl.bufferData(gl.ARRAY_BUFFER, interleaved, gl.STATIC_DRAW);
      const ibo = gl.createBuffer();
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ibo);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, new Uint16Array(m.idx), gl.STATIC_DRAW);
      drawn.push({ geom, vbo, ibo, count: m.idx.length,
        fixed: geom.pose ? poseMatrix(geom.pose, 0) : null,
        checker: geom.type === "plane" ? 1.0 : 0.0 });
    }
  } else {
    $("view").insertAdjacentHTML("beforeend", `<div id="nogl" class="panel">This browser ` +
      `offers no WebGL, so the arena cannot be drawn; the HUD and the timeline still work.</div>`);
  }
  const loc = program && {
    position: gl.getAttribLocation(program, "position"),
    normal: gl.getAttribLocation(program, "normal"),
    model: gl.getUniformLocation(program, "model"),
    viewProjection: gl.getUniformLocation(program, "viewProjection"),
    colour: gl.getUniformLocation(program, "colour"),
    checker: gl.getUniformLocation(program, "checker"),
    eye: gl.getUniformLocation(program, "eye"),
  };

  // ------------------------------------------------------------------ camera (MuJoCo's free one)

  const START = { azimuth: 90, elevation: -25, distance: 6 };  // degrees, degrees, m
  const camera = Object.assign({}, START);
  const arenaCentre = [0, 0, 0.8];

  function lookat(k) {
    if (!$("follow").checked) return arenaCentre;
    const a = (k * M + DATA.torsos[0]) * 7, b = (k * M + DATA.torsos[1]) * 7;
    return [(POSES[a] + POSES[b]) / 2, (POSES[a + 1] + POSES[b + 1]) / 2, 0.8];
  }

  function drawScene(k) {
    if (!gl) return;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    gl.viewport(0, 0, w, h);
    gl.clearColor(0.55, 0.58, 0.7, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    const az = camera.azimuth * Math.PI / 180, el = camera.elevation * Math.PI / 180;
    const target = lookat(k);
    const forward = [Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)];
    const eye = target.map((v, i) => v - camera.distance * forward[i]);
    const viewProjection = multiply(perspective(45 * Math.PI / 180, w / h, 0.05, 200),
      lookAt(eye, target, [0, 0, 1]));
    gl.uniformMatrix4fv(loc.viewProjection, false, viewProjection);
    gl.uniform3fv(loc.eye, eye);
    gl.enableVertexAttribArray(loc.position);
    gl.enableVertexAttribArray(loc.normal);
    for (const d of drawn) {
      gl.bindBuffer(gl.ARRAY_BUFFER, d.vbo);
      gl.vertexAttribPointer(loc.position, 3, gl.FLOAT, false, 24, 0);
      gl.vertexAttribPointer(loc.normal, 3, gl.FLOAT, false, 24, 12);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, d.ibo);
      const model = d.fixed || poseMatrix(POSES, (k * M + d.geom.slot) * 7);
      gl.uniformMatrix4fv(loc.model, false, model);
      gl.uniform4fv(loc.colour, d.geom.rgba);
      gl.uniform1f(loc.checker, d.checker);
      gl.drawElements(gl.TRIANGLES, d.count, gl.UNSIGNED_SHORT, 0);
    }
  }

  // ------------------------------------------------------------------ playback

  let frame = 0, playing = false, position = 0, lastTime = null;
  const speed = () => Number(speedSelect.value);

  function show(k) {
    frame = Math.max(0, Math.min(N - 1, k));
    slider.value = String(frame);
    playButton.textContent = playing ? "pause" : "play";
    drawHud(frame, playing, speed());
    drawScene(frame);
  }
  function setPlaying(on) {
    playing = on;
    if (on && frame >= N - 1) frame = 0;  // play at the end starts again
    position = frame;
    lastTime = null;
    show(frame);
    if (on) requestAnimationFrame(tick);
  }
  function tick(now) {
    if (!playing) return;
    if (lastTime !== null) position += (now - lastTime) / 1000 * speed() / DATA.dt;
    lastTime = now;
    if (position >= N - 1) { playing = false; position = N - 1; }
    show(Math.floor(position));
    if (playing) requestAnimationFrame(tick);
  }
  function fromHash() {
    const found = /step=(\d+)/.exec(location.hash);
    if (found) { playing = false; show(Number(found[1]) - 1); }
  }

  playButton.addEventListener("click", () => setPlaying(!playing));
  slider.addEventListener("input", () => { position = Number(slider.value); show(position); });
  speedSelect.addEventListener("change", () => show(frame));
  $("follow").addEventListener("change", () => show(frame));
  $("reset").addEventListener("click", () => { Object.assign(camera, START); show(frame); });
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("resize", () => show(frame));
  window.addEventListener("keydown", (event) => {
    if (event.target.tagName === "SELECT") return;
    const i = SPEEDS.indexOf(speed());
    if (event.key === " ") setPlaying(!playing);
    else if (event.key === "ArrowRight" || event.key === ".") { playing = false; show(frame + 1); }
    else if (event.key === "ArrowLeft" || event.key === ",") { playing = false; show(frame - 1); }
    else if (event.key === "+" || event.key === "=") speedSelect.value = SPEEDS[Math.min(i + 1, SPEEDS.length - 1)];
    else if (event.key === "-") speedSelect.value = SPEEDS[Math.max(i - 1, 0)];
    else return;
    event.preventDefault();
    show(frame);
  });
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    drag = [event.clientX, event.clientY];
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", (event) => {
    if (drag === null) return;
    camera.azimuth = (camera.azimuth - 0.4 * (event.clientX - drag[0]) + 360) % 360;
    camera.elevation = Math.max(-89, Math.min(-2, camera.elevation - 0.4 * (event.clientY - drag[1])));
    drag = [event.clientX, event.clientY];
    if (!playing) show(frame);
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    camera.distance = Math.max(1, Math.min(30, camera.distance * Math.pow(1.1, Math.sign(event.deltaY))));
    if (!playing) show(frame);
  }, { passive: false });

  show(0);
  fromHash();
})();
