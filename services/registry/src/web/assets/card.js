// Checks the signed credential a label carries in the URL fragment
// (#c=<base64url COSE_Sign1>), in the browser: the fragment never reaches
// the server. The COSE_Sign1 (RFC 9052) is parsed here, its Sig_structure
// rebuilt, and the Ed25519 signature checked with WebCrypto against the
// keys this registry publishes at /keys (a JWK set). The page works
// without this script; it only adds the check.
(function () {
  "use strict";
  var section = document.getElementById("credential-check");
  if (!section) return;
  var match = /(?:^#|&)c=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  if (!match) return;
  var result = document.getElementById("credential-result");
  section.hidden = false;
  function show(state) {
    result.textContent = section.getAttribute("data-" + state);
    section.className = "credential" +
      (state === "verified" ? " credential-verified" : state === "checking" ? "" : " credential-failed");
    section.setAttribute("data-state", state);
  }
  show("checking");

  function fromBase64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  // A small CBOR (RFC 8949) reader: the definite-length items a
  // credential holds. Byte strings are Uint8Arrays, maps are arrays of
  // [key, value] pairs, tags are {tag, value}.
  function decode(bytes) {
    var pos = 0;
    function need(n) { if (pos + n > bytes.length) throw new Error("truncated"); }
    function uint(info) {
      if (info < 24) return info;
      var size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size) throw new Error("unsupported length");
      need(size);
      var value = 0;
      for (var i = 0; i < size; i++) value = value * 256 + bytes[pos++];
      return value;
    }
    function item() {
      need(1);
      var initial = bytes[pos++];
      var major = initial >> 5, info = initial & 31;
      var n = uint(info), out, i;
      switch (major) {
        case 0: return n;
        case 1: return -1 - n;
        case 2: need(n); out = bytes.slice(pos, pos + n); pos += n; return out;
        case 3: need(n); out = new TextDecoder("utf-8", { fatal: true }).decode(bytes.slice(pos, pos + n)); pos += n; return out;
        case 4: out = []; for (i = 0; i < n; i++) out.push(item()); return out;
        case 5: out = []; for (i = 0; i < n; i++) out.push([item(), item()]); return out;
        case 6: return { tag: n, value: item() };
        default: throw new Error("unsupported item");
      }
    }
    var value = item();
    if (pos !== bytes.length) throw new Error("data after the item");
    return value;
  }
  function lookup(map, key) {
    for (var i = 0; i < map.length; i++) if (map[i][0] === key) return map[i][1];
    return undefined;
  }

  // CBOR heads for the Sig_structure.
  function head(major, length) {
    if (length < 24) return [(major << 5) | length];
    if (length < 256) return [(major << 5) | 24, length];
    return [(major << 5) | 25, length >> 8, length & 255];
  }
  function concat(parts) {
    var total = 0, i;
    for (i = 0; i < parts.length; i++) total += parts[i].length;
    var out = new Uint8Array(total), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  function bstr(bytes) { return concat([new Uint8Array(head(2, bytes.length)), bytes]); }
  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  function check() {
    var cose = decode(fromBase64url(match[1]));
    // COSE_Sign1: tag 18 around [protected, unprotected, payload, signature].
    if (!cose || cose.tag !== 18 || !Array.isArray(cose.value) || cose.value.length !== 4) throw new Error("not a COSE_Sign1");
    var protectedBytes = cose.value[0], payload = cose.value[2], signature = cose.value[3];
    var header = decode(protectedBytes);
    if (lookup(header, 1) !== -8) throw new Error("not EdDSA");
    var kid = lookup(header, 4);
    if (!(kid instanceof Uint8Array)) throw new Error("no key id");
    var claims = decode(payload);
    if (lookup(claims, 1) !== section.getAttribute("data-robot")) throw new Error("another robot's credential");
    // Sig_structure = ["Signature1", body_protected, external_aad = h'', payload]
    var text = new TextEncoder().encode("Signature1");
    var toBeSigned = concat([
      new Uint8Array([0x84]),
      concat([new Uint8Array(head(3, text.length)), text]),
      bstr(protectedBytes), bstr(new Uint8Array(0)), bstr(payload)
    ]);
    return fetch(section.getAttribute("data-keys"), { credentials: "omit" })
      .then(function (response) { if (!response.ok) throw new Error("no keys"); return response.json(); })
      .then(function (set) {
        var wanted = hex(kid), jwk = null;
        (set.keys || []).forEach(function (key) { if (key.kid === wanted) jwk = key; });
        if (!jwk) throw new Error("unknown key");
        return crypto.subtle.importKey("raw", fromBase64url(jwk.x), { name: "Ed25519" }, false, ["verify"]);
      })
      .then(function (key) { return crypto.subtle.verify({ name: "Ed25519" }, key, signature, toBeSigned); });
  }

  if (!window.crypto || !crypto.subtle) { show("unsupported"); return; }
  var checking;
  try { checking = check(); } catch (e) { show("failed"); return; }
  checking.then(function (valid) { show(valid ? "verified" : "failed"); }, function (error) {
    show(error && error.name === "NotSupportedError" ? "unsupported" : "failed");
  });
})();
