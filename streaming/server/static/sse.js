/* Incremental Server-Sent Events parser for fetch() + ReadableStream.
 *
 * The twin of streaming/sse.py (same WHATWG rules): lines end in \r\n, \r or \n;
 * a blank line dispatches; data: lines join with \n; lines starting with ":" are
 * comments; a \r ending a read ends its line at once. Reads may split anywhere (inside a \r\n pair or a UTF-8 character):
 * partial lines wait in a buffer for the next read.
 *
 * Classic script: in a page it defines window.SSE; under node, require() returns it.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.SSE = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  var EOL = /\r\n|\r|\n/g;

  function SSEParser(options) {
    this.keepComments = !!(options && options.keepComments);
    this._decoder = new TextDecoder("utf-8");
    this._buf = "";
    this._data = [];
    this._event = null;
    this._id = null;
    this._skipLF = false;
  }

  /* Feed a Uint8Array (or a string); returns the events completed by it:
   * {data, event, id} or, with keepComments, {comment}. */
  SSEParser.prototype.feed = function (chunk) {
    var text = typeof chunk === "string" ? chunk : this._decoder.decode(chunk, { stream: true });
    var buf = this._buf ? this._buf + text : text;
    if (this._skipLF && buf) {
      this._skipLF = false;
      if (buf.charAt(0) === "\n") buf = buf.slice(1); // the second half of a \r\n split across reads
    }
    var out = [];
    var pos = 0;
    var m;
    EOL.lastIndex = 0;
    while ((m = EOL.exec(buf)) !== null) {
      this._line(buf.slice(pos, m.index), out);
      pos = EOL.lastIndex;
      // a \r at the end of a read is already a line end: waiting for a \n would dispatch lone-CR streams a read late
      if (m[0] === "\r" && pos === buf.length) this._skipLF = true;
    }
    this._buf = buf.slice(pos);
    return out;
  };

  /* End of stream: a line without its terminator and an event without its blank line are dropped (WHATWG). */
  SSEParser.prototype.flush = function () {
    var out = [];
    this._decoder.decode(); // pending bytes of an unfinished line are discarded, as is an unfinished event
    this._buf = "";
    this._skipLF = false;
    this._data = [];
    this._event = null;
    return out;
  };

  SSEParser.prototype._line = function (line, out) {
    if (line === "") {
      if (this._data.length === 0) {
        this._event = null;
        return;
      }
      out.push({ data: this._data.join("\n"), event: this._event || "message", id: this._id });
      this._data = [];
      this._event = null;
      return;
    }
    if (line.charAt(0) === ":") {
      if (this.keepComments) out.push({ comment: line.slice(1).replace(/^ +/, "") });
      return;
    }
    var i = line.indexOf(":");
    var name = i < 0 ? line : line.slice(0, i);
    var value = i < 0 ? "" : line.slice(i + 1);
    if (value.charAt(0) === " ") value = value.slice(1);
    if (name === "data") this._data.push(value);
    else if (name === "event") this._event = value;
    else if (name === "id" && value.indexOf("\0") < 0) this._id = value;
  };

  return { SSEParser: SSEParser };
});
