/*
 * ragqa chat widget: ask the document collection from any page with one tag.
 *
 *   <script src="https://host/widget.js" data-api="https://host" data-title="..." defer></script>
 *
 * data-api   base URL of the ragqa server (default: the origin this script came from)
 * data-title title of the chat panel (default: a localised "Ask the documents")
 * data-lang  interface language: "en", "zh-Hans" or "zh-Hant" (default: the page's
 *            <html lang>, then the browser's language); what is said about one answer
 *            (status, refusal, problems) follows the language of its question instead
 * data-suggestions  questions offered in an empty chat: a JSON array, or "|" between them
 *
 * Theming: the page may set --ragqa-accent, --ragqa-accent-text, --ragqa-background,
 * --ragqa-text and --ragqa-font on the ragqa-widget element (or any ancestor); light and dark
 * defaults follow prefers-color-scheme. When the panel opens, the widget checks /readyz and
 * tells a server that refuses this page (CORS, or a wrong address) from one that is down.
 * While closed, the page gets bottom padding so the launcher never hides its last lines.
 *
 * Everything lives in a Shadow DOM so the host page's CSS cannot reach in and ours cannot
 * leak out. Text from documents is only ever set with textContent. Answers are markdown:
 * rendered by the vendored `marked` with any HTML in them turned back into visible text,
 * then cleaned by the vendored DOMPurify (a short list of tags, http(s) links only) before
 * they touch the page. Served without those libraries, answers are shown as plain text.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script) return;

  var HISTORY_LIMIT = 20; // messages sent as `history` (the server caps turns as well)
  var MAX_RETRY_WAIT_S = 120; // keep retrying a busy server this long, then ask to try later
  var DEFAULT_RETRY_S = 5;
  var CITATION_MARK = /\[(\d+(?:\s*[,，]\s*\d+)*)\]/g; // [1], [1, 2], [1，2]

  var MESSAGES = {
    en: {
      title: "Ask the documents",
      open: "Ask a question",
      close: "Close",
      clear: "New chat",
      placeholder: "Ask a question about the documents…",
      questionLabel: "Your question",
      send: "Send",
      stop: "Stop",
      hint: "Enter to send · Shift+Enter for a new line",
      you: "You",
      assistant: "Answer",
      searching: "Searching the documents…",
      writing: "Writing the answer…",
      sources: "Sources",
      source: "Source",
      openDocument: "Open in the document",
      notFound: "Not found in the documents",
      stopped: "Stopped.",
      busy: "The server is busy. Retrying in {s} s…",
      rateLimited: "Too many questions in a short time. Retrying in {s} s…",
      stillBusy: "The server is still busy. Please try again in a moment.",
      tooLong: "The question is too long. Please shorten it.",
      invalid: "The question could not be accepted.",
      unreachable: "The server is unreachable. Check your connection and try again.",
      blocked: "The server at {api} refused this page (CORS), or the address is wrong.",
      starting: "The server is starting. Try again in a moment.",
      retry: "Retry",
      copy: "Copy",
      copied: "Copied",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      comment: "What was right or wrong? (optional)",
      sendFeedback: "Send feedback",
      thanks: "Thanks for your feedback.",
      feedbackFailed: "Feedback not sent: {detail}",
      suggestions: "Try asking:",
      interrupted: "The answer was interrupted before it finished.",
      failed: "Something went wrong: {detail}",
      empty: "Ask anything about the documents. Answers cite their sources.",
    },
    "zh-Hans": {
      title: "文档问答",
      open: "提问",
      close: "关闭",
      clear: "新对话",
      placeholder: "就文档内容提问…",
      questionLabel: "你的问题",
      send: "发送",
      stop: "停止",
      hint: "Enter 发送 · Shift+Enter 换行",
      you: "你",
      assistant: "回答",
      searching: "正在检索文档…",
      writing: "正在生成回答…",
      sources: "来源",
      source: "来源",
      openDocument: "在原文中查看",
      notFound: "文档中未找到相关内容",
      stopped: "已停止。",
      busy: "服务器繁忙，{s} 秒后自动重试…",
      rateLimited: "提问过于频繁，{s} 秒后自动重试…",
      stillBusy: "服务器仍然繁忙，请稍后再试。",
      tooLong: "问题太长，请缩短后再试。",
      invalid: "无法接受这个问题。",
      unreachable: "无法连接服务器，请检查网络后重试。",
      blocked: "服务器 {api} 拒绝了本页面的请求（CORS），或地址有误。",
      starting: "服务器正在启动，请稍后再试。",
      retry: "重试",
      copy: "复制",
      copied: "已复制",
      helpful: "有帮助",
      notHelpful: "没有帮助",
      comment: "哪里对、哪里不对？（可选）",
      sendFeedback: "提交反馈",
      thanks: "感谢你的反馈。",
      feedbackFailed: "反馈未能提交：{detail}",
      suggestions: "可以这样问：",
      interrupted: "回答在完成前中断了。",
      failed: "出错了：{detail}",
      empty: "就文档内容随便问，回答会注明出处。",
    },
    "zh-Hant": {
      title: "文件問答",
      open: "提問",
      close: "關閉",
      clear: "新對話",
      placeholder: "就文件內容提問…",
      questionLabel: "你的問題",
      send: "發送",
      stop: "停止",
      hint: "Enter 發送 · Shift+Enter 換行",
      you: "你",
      assistant: "回答",
      searching: "正在檢索文件…",
      writing: "正在產生回答…",
      sources: "來源",
      source: "來源",
      openDocument: "在原文中檢視",
      notFound: "文件中未找到相關內容",
      stopped: "已停止。",
      busy: "伺服器忙碌中，{s} 秒後自動重試…",
      rateLimited: "提問過於頻繁，{s} 秒後自動重試…",
      stillBusy: "伺服器仍然忙碌，請稍後再試。",
      tooLong: "問題太長，請縮短後再試。",
      invalid: "無法接受這個問題。",
      unreachable: "無法連線到伺服器，請檢查網路後重試。",
      blocked: "伺服器 {api} 拒絕了本頁面的請求（CORS），或位址有誤。",
      starting: "伺服器正在啟動，請稍後再試。",
      retry: "重試",
      copy: "複製",
      copied: "已複製",
      helpful: "有幫助",
      notHelpful: "沒有幫助",
      comment: "哪裡對、哪裡不對？（選填）",
      sendFeedback: "送出回饋",
      thanks: "感謝你的回饋。",
      feedbackFailed: "回饋未能送出：{detail}",
      suggestions: "可以這樣問：",
      interrupted: "回答在完成前中斷了。",
      failed: "出錯了：{detail}",
      empty: "就文件內容隨意提問，回答會註明出處。",
    },
  };

  /** Pick the interface language: data-lang, then <html lang>, then the browser. */
  function chooseLanguage(requested) {
    var tag = (requested || document.documentElement.lang || navigator.language || "en");
    tag = tag.toLowerCase();
    if (tag.indexOf("zh") !== 0) return "en";
    return /hant|-tw|-hk|-mo/.test(tag) ? "zh-Hant" : "zh-Hans";
  }

  // Characters written differently in the two scripts (traditional, then simplified).
  var TRADITIONAL = "們這個說為時會國屆議論壇辦來對於與機術學醫療體發經關開長問應當實現區書東車門見聽讀報記專無還進過舉裡參擔將從";
  var SIMPLIFIED = "们这个说为时会国届议论坛办来对于与机术学医疗体发经关开长问应当实现区书东车门见听读报记专无还进过举里参担将从";
  var CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/g;

  /** The language of a question, as the server judges it: its answer comes in the same. */
  function questionLanguage(question) {
    var han = question.match(CJK) || [];
    var latin = question.match(/[A-Za-z]/g) || [];
    if (!han.length || han.length * 4 < latin.length) return "en";
    var traditional = 0;
    var simplified = 0;
    han.forEach(function (c) {
      if (TRADITIONAL.indexOf(c) >= 0) traditional++;
      else if (SIMPLIFIED.indexOf(c) >= 0) simplified++;
    });
    if (traditional !== simplified) return traditional > simplified ? "zh-Hant" : "zh-Hans";
    return lang === "zh-Hant" ? "zh-Hant" : "zh-Hans";
  }

  /** Suggested questions from data-suggestions: a JSON array, or "|" between them. */
  function readSuggestions(value) {
    if (!value) return [];
    var list;
    try {
      list = value.trim()[0] === "[" ? JSON.parse(value) : value.split("|");
    } catch (_) {
      list = [];
    }
    return (Array.isArray(list) ? list : []).map(function (q) { return String(q).trim(); })
      .filter(Boolean).slice(0, 6);
  }

  // --- markdown, sanitised --------------------------------------------------------------

  // The libraries /widget.js is served with (service/routers/widget.py); absent: plain text.
  var vendor = typeof ragqaVendor === "object" ? ragqaVendor : {};
  var MARKDOWN_TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "ul", "ol", "li",
    "blockquote", "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody",
    "tr", "th", "td"];

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /** markdown(text) -> a sanitised DocumentFragment, or null without the libraries. */
  var markdown = (function () {
    var Marked = vendor.marked && vendor.marked.Marked;
    var purify = vendor.DOMPurify;
    if (!Marked || !purify || !purify.isSupported) return null;
    var parser = new Marked({ gfm: true, breaks: true, async: false });
    function asText(token) { return escapeHtml(typeof token === "string" ? token : token.text); }
    // HTML written in an answer is shown as the text it is, never as markup; images as their
    // alt text (nothing is fetched because an answer says so).
    parser.use({ renderer: { html: asText, image: asText } });
    purify.addHook("afterSanitizeAttributes", function (node) {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    return function (source) {
      var fragment = purify.sanitize(parser.parse(source), {
        ALLOWED_TAGS: MARKDOWN_TAGS, ALLOWED_ATTR: ["href", "title", "start"],
        ALLOWED_URI_REGEXP: /^https?:/i, RETURN_DOM_FRAGMENT: true,
      });
      return document.importNode(fragment, true);
    };
  })();

  var lang = chooseLanguage(script.getAttribute("data-lang"));
  var suggestions = readSuggestions(script.getAttribute("data-suggestions"));
  var text = MESSAGES[lang];
  var apiBase = (script.getAttribute("data-api") || new URL(script.src, location.href).origin)
    .replace(/\/+$/, "");
  var storageKey = "ragqa-widget:" + apiBase;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }

  /** Create an element with attributes and text (never HTML) in one call. */
  function el(tag, attrs, content) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (content !== undefined) node.textContent = content;
    return node;
  }

  /**
   * Only http(s) links are shown: a `javascript:` url from a document must not run. A path
   * ("/v1/documents/…/view") is the API's own page, under `data-api` (which may have a path).
   */
  function safeUrl(url) {
    if (!url) return null;
    try {
      var parsed = /^\/(?!\/)/.test(url) ? new URL(apiBase + url) : new URL(url, apiBase);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // --- conversation kept for the page session -------------------------------------------

  function loadConversation() {
    try {
      var stored = JSON.parse(sessionStorage.getItem(storageKey) || "[]");
      return (Array.isArray(stored) ? stored : []).filter(function (entry) {
        return entry && typeof entry.content === "string" &&
          (entry.role === "user" || entry.role === "assistant");
      });
    } catch (_) {
      return []; // storage disabled or corrupt: start afresh
    }
  }

  function saveConversation() {
    try {
      sessionStorage.setItem(storageKey, JSON.stringify(conversation));
    } catch (_) {
      /* storage full or disabled: the conversation still lives in memory */
    }
  }

  /** Completed question/answer pairs only, so the server never sees a dangling question. */
  function historyFor(entries) {
    var history = [];
    for (var i = 0; i + 1 < entries.length; i++) {
      var question = entries[i];
      var answer = entries[i + 1];
      if (question.role === "user" && answer.role === "assistant" && answer.complete &&
          answer.content.trim()) { // the server rejects empty turns
        history.push({ role: "user", content: question.content });
        history.push({ role: "assistant", content: answer.content });
        i++;
      }
    }
    return history.slice(-HISTORY_LIMIT);
  }

  var conversation = loadConversation();

  // --- styles ------------------------------------------------------------------------

  var CSS = [
    ":host { all: initial; }",
    // Every colour is a custom property: the page may override the --ragqa-* ones.
    ".root { --accent: var(--ragqa-accent, #0b5cad); --on-accent: var(--ragqa-accent-text, #fff);",
    "  --bg: var(--ragqa-background, #fff); --fg: var(--ragqa-text, #1f2933);",
    "  --link: var(--ragqa-accent, #084785); --accent-hover: #084785; --soft: #f3f5f8;",
    "  --line: #d5dbe3; --muted: #52606d; --chip: #e8f0fa; --quote: #323f4b; --field: #9aa5b1;",
    "  --refused-bg: #f1f3f5; --refused-fg: #3e4c59; --error-bg: #fdecea; --error-line: #f5b7b1;",
    "  --error-fg: #8a1c12; --notice-bg: #fff8e1; --notice-line: #f3d98b; --notice-fg: #5c4400;",
    "  --stop: #c0392b; --focus: #f5a623;",
    "  font: 14px/1.5 var(--ragqa-font, system-ui, -apple-system, 'Segoe UI', 'PingFang SC',",
    "  'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif); color: var(--fg); }",
    "@media (prefers-color-scheme: dark) {",
    "  .root { --accent: var(--ragqa-accent, #2f7fd1); --bg: var(--ragqa-background, #1d2127);",
    "    --fg: var(--ragqa-text, #e4e7eb); --link: var(--ragqa-accent, #8cc4f2);",
    "    --accent-hover: #2667aa; --soft: #14171c; --line: #3a424d; --muted: #a3adb8;",
    "    --chip: #1f3a57; --quote: #d3d8de; --field: #5c6773; --refused-bg: #262b32;",
    "    --refused-fg: #c5ccd3; --error-bg: #3b1d1a; --error-line: #7a2e25; --error-fg: #f6b8ae;",
    "    --notice-bg: #352c12; --notice-line: #6e5a1d; --notice-fg: #f3dc9b; }",
    "}",
    ".root *, .root *::before, .root *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    "button { font: inherit; cursor: pointer; }",
    "button:focus-visible, textarea:focus-visible, a:focus-visible {",
    "  outline: 3px solid var(--focus); outline-offset: 2px; }",
    ".launcher { position: fixed; right: calc(20px + env(safe-area-inset-right, 0px));",
    "  bottom: calc(20px + env(safe-area-inset-bottom, 0px)); z-index: 2147483000;",
    "  display: flex; align-items: center; gap: 8px; padding: 12px 18px; border: 0;",
    "  border-radius: 999px; background: var(--accent); color: var(--on-accent); font-weight: 600;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:hover { filter: brightness(.9); }",
    ".launcher svg { width: 20px; height: 20px; fill: currentColor; }",
    ".panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483001;",
    "  width: 400px; max-width: calc(100vw - 40px); height: 600px; max-height: calc(100vh - 110px);",
    "  display: flex; flex-direction: column; background: var(--bg); border: 1px solid var(--line);",
    "  border-radius: 12px; box-shadow: 0 10px 40px rgba(0,0,0,.25); overflow: hidden; }",
    ".head { display: flex; align-items: center; gap: 8px; padding: 10px 12px;",
    "  background: var(--accent); color: var(--on-accent); }",
    ".head h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }",
    ".head button { border: 1px solid rgba(255,255,255,.5); background: transparent;",
    "  color: inherit; border-radius: 6px; padding: 4px 10px; }",
    ".head button:hover { background: rgba(255,255,255,.15); }",
    ".head .close { font-size: 18px; line-height: 1; padding: 4px 9px; }",
    ".connection { display: flex; align-items: center; gap: 8px; margin: 0; padding: 8px 12px;",
    "  background: var(--error-bg); color: var(--error-fg); border-bottom: 1px solid var(--error-line);",
    "  font-size: 13px; }",
    ".connection p { flex: 1; margin: 0; overflow-wrap: anywhere; }",
    ".connection button, .copy { border: 1px solid currentColor; border-radius: 6px;",
    "  background: transparent; color: inherit; padding: 2px 10px; font-size: 12px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column;",
    "  gap: 12px; background: var(--soft); }",
    ".empty { color: var(--muted); text-align: center; margin: auto 12px; }",
    ".empty p { margin: 0 0 10px; }",
    ".suggestions { display: flex; flex-direction: column; gap: 6px; align-items: stretch; }",
    ".suggestion { border: 1px solid var(--line); border-radius: 10px; background: var(--bg);",
    "  color: var(--fg); padding: 8px 12px; text-align: left; min-height: 36px; }",
    ".suggestion:hover { border-color: var(--accent); }",
    ".msg { max-width: 92%; }",
    ".msg-user { align-self: flex-end; }",
    ".msg-assistant { align-self: flex-start; }",
    ".bubble { margin: 0; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; }",
    ".msg-user .bubble { background: var(--accent); color: var(--on-accent);",
    "  border-bottom-right-radius: 4px; }",
    ".msg-assistant .bubble { background: var(--bg); border: 1px solid var(--line);",
    "  border-bottom-left-radius: 4px; }",
    ".bubble.md { white-space: normal; }",
    ".bubble.md p, .bubble.md ul, .bubble.md ol, .bubble.md pre, .bubble.md blockquote,",
    "  .bubble.md table, .bubble.md h1, .bubble.md h2, .bubble.md h3, .bubble.md h4,",
    "  .bubble.md h5, .bubble.md h6 { margin: 0 0 .5em; font-size: 1em; }",
    ".bubble.md > :last-child { margin-bottom: 0; }",
    ".bubble.md ul, .bubble.md ol { padding-left: 1.4em; }",
    ".bubble.md pre { white-space: pre-wrap; padding: 6px 8px; border-radius: 6px;",
    "  background: var(--soft); }",
    ".bubble.md code { font-family: ui-monospace, 'SFMono-Regular', Menlo, monospace;",
    "  font-size: 92%; }",
    ".bubble.md blockquote { padding-left: 8px; border-left: 3px solid var(--line); }",
    ".bubble.md a { color: var(--link); }",
    ".bubble.md table { border-collapse: collapse; }",
    ".bubble.md th, .bubble.md td { border: 1px solid var(--line); padding: 2px 6px; }",
    ".status { color: var(--muted); font-size: 13px; margin: 0 0 4px; }",
    ".refused .bubble { background: var(--refused-bg); color: var(--refused-fg);",
    "  border-style: dashed; }",
    ".refused-label { font-size: 12px; font-weight: 600; color: var(--muted); margin: 0 0 4px; }",
    ".error .bubble { background: var(--error-bg); border-color: var(--error-line);",
    "  color: var(--error-fg); }",
    ".notice .bubble { background: var(--notice-bg); border-color: var(--notice-line);",
    "  color: var(--notice-fg); }",
    ".stopped-note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }",
    ".tools { margin: 4px 0 0; color: var(--muted); display: flex; flex-wrap: wrap;",
    "  align-items: center; gap: 6px; font-size: 12px; }",
    ".rate { border: 1px solid var(--line); border-radius: 6px; background: transparent;",
    "  padding: 1px 8px; font-size: 14px; line-height: 20px; }",
    ".rate[aria-pressed='true'] { border-color: var(--accent); background: var(--chip); }",
    ".feedback-form { display: flex; flex-wrap: wrap; gap: 6px; width: 100%; }",
    ".feedback-form textarea { flex: 1 1 100%; min-height: 40px; resize: vertical;",
    "  padding: 6px 8px; border: 1px solid var(--field); border-radius: 6px; font: inherit;",
    "  color: inherit; background: var(--bg); }",
    ".feedback-form button { border: 0; border-radius: 6px; padding: 4px 10px;",
    "  background: var(--accent); color: var(--on-accent); font-size: 12px; }",
    // A chip is a transparent button around its pill, so the touch target can grow alone.
    ".chip { display: inline-block; margin: 0 1px; padding: 0; border: 0; background: none;",
    "  color: inherit; vertical-align: 1px; }",
    ".chip span { display: inline-block; min-width: 20px; padding: 0 6px; text-align: center;",
    "  border: 1px solid var(--accent); border-radius: 10px; background: var(--chip);",
    "  color: var(--link); font-size: 12px; line-height: 18px; }",
    ".chip:hover span, .chip[aria-expanded='true'] span { background: var(--accent);",
    "  color: var(--on-accent); }",
    ".sources { margin: 6px 0 0; font-size: 12px; color: var(--muted); }",
    ".sources ol { list-style: none; margin: 2px 0 0; padding: 0; display: flex;",
    "  flex-direction: column; gap: 2px; }",
    ".source { border: 0; background: none; color: var(--link); padding: 0;",
    "  text-align: left; text-decoration: underline; font-size: 12px; }",
    ".source[aria-expanded='true'] { font-weight: 600; }",
    ".card { margin: 6px 0 0; padding: 8px 10px; background: var(--bg);",
    "  border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 6px;",
    "  font-size: 13px; }",
    ".card h3 { margin: 0 0 4px; font-size: 13px; }",
    ".card blockquote { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;",
    "  color: var(--quote); max-height: 180px; overflow-y: auto; }",
    ".card a { display: inline-block; margin-top: 4px; color: var(--link); }",
    ".composer { display: flex; gap: 8px; padding: 10px 12px 4px; align-items: flex-end;",
    "  border-top: 1px solid var(--line); background: var(--bg); }",
    ".composer textarea { flex: 1; resize: none; min-height: 42px; max-height: 140px;",
    "  field-sizing: content; padding: 9px 10px; border: 1px solid var(--field);",
    "  border-radius: 8px; font: inherit; color: inherit; background: var(--bg); }",
    ".composer button { border: 0; border-radius: 8px; padding: 10px 14px; font-weight: 600;",
    "  background: var(--accent); color: var(--on-accent); }",
    ".composer button:disabled { opacity: .5; cursor: default; }",
    ".composer .stop { background: var(--stop); color: #fff; }",
    ".hint { margin: 0; padding: 0 12px 8px; font-size: 11px; color: var(--muted);",
    "  background: var(--bg); }",
    ".visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .panel { right: 0; left: 0; bottom: 0; top: 0; width: 100%; max-width: 100%;",
    "    height: 100%; max-height: 100%; border-radius: 0; border: 0; }",
    "  .composer textarea { font-size: 16px; }", // below 16px, iOS zooms the page on focus
    // Touch targets of at least 44x44 px; the chip's negative margins keep lines compact.
    "  .head button, .connection button, .copy, .rate, .feedback-form button {",
    "    min-width: 44px; min-height: 44px; }",
    "  .chip { min-width: 44px; min-height: 44px; margin: -13px 0; vertical-align: middle; }",
    "  .source { min-height: 44px; }",
    // A round button in the corner, clear of the notch and the home bar.
    "  .launcher { right: calc(12px + env(safe-area-inset-right, 0px));",
    "    bottom: calc(12px + env(safe-area-inset-bottom, 0px)); width: 52px; height: 52px;",
    "    padding: 0; justify-content: center; }",
    "  .launcher span { position: absolute; width: 1px; height: 1px; overflow: hidden;",
    "    clip: rect(0 0 0 0); white-space: nowrap; }",
    "}",
  ].join("\n");

  // --- DOM ---------------------------------------------------------------------------

  var host = document.createElement("ragqa-widget");
  var shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function") {
    var sheet = new CSSStyleSheet(); // not blocked by a host page's style-src policy
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.appendChild(el("style", {}, CSS));
  }

  var root = el("div", { class: "root", lang: lang });
  var launcher = el("button", {
    type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "panel",
  });
  var icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  var iconPath = document.createElementNS("http://www.w3.org/2000/svg", "path");
  iconPath.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  icon.appendChild(iconPath);
  launcher.appendChild(icon);
  launcher.appendChild(el("span", {}, text.open));

  var title = script.getAttribute("data-title") || text.title;
  var panel = el("section", {
    id: "panel", class: "panel", role: "dialog", "aria-labelledby": "panel-title", hidden: "",
  });
  var head = el("div", { class: "head" });
  head.appendChild(el("h2", { id: "panel-title" }, title));
  var clearButton = el("button", { type: "button", class: "clear" }, text.clear);
  var closeButton = el("button", { type: "button", class: "close", "aria-label": text.close }, "×");
  head.appendChild(clearButton);
  head.appendChild(closeButton);

  var connection = el("div", { class: "connection", role: "alert", hidden: "" });
  var connectionText = el("p");
  var retryButton = el("button", { type: "button", class: "retry" }, text.retry);
  connection.appendChild(connectionText);
  connection.appendChild(retryButton);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": title });
  var composer = el("form", { class: "composer" });
  composer.appendChild(el("label", { for: "question", class: "visually-hidden" }, text.questionLabel));
  var input = el("textarea", {
    id: "question", rows: "1", placeholder: text.placeholder, "aria-describedby": "hint",
  });
  var sendButton = el("button", { type: "submit", class: "send" }, text.send);
  var stopButton = el("button", { type: "button", class: "stop", hidden: "" }, text.stop);
  composer.appendChild(input);
  composer.appendChild(sendButton);
  composer.appendChild(stopButton);

  panel.appendChild(head);
  panel.appendChild(connection);
  panel.appendChild(log);
  panel.appendChild(composer);
  panel.appendChild(el("p", { id: "hint", class: "hint" }, text.hint));
  root.appendChild(panel);
  root.appendChild(launcher);
  shadow.appendChild(root);

  // --- rendering ---------------------------------------------------------------------

  /** Map n -> {title, quote, url} from `passages` (while streaming) or `citations` (final). */
  function referencesFrom(items, quoteField) {
    var refs = {};
    (items || []).forEach(function (item) {
      refs[item.n] = { title: item.title || item.doc_id || "", quote: item[quoteField] || "",
        url: item.url || null, docId: item.doc_id || "",
        start: typeof item.start === "number" ? item.start : null,
        end: typeof item.end === "number" ? item.end : null };
    });
    return refs;
  }

  /** Show reference `n` in the message's card, or hide it when it is already shown. */
  function toggleReference(view, n) {
    view.openRef = view.openRef === n ? null : n;
    renderCard(view);
    if (view.openRef !== null) view.card.scrollIntoView({ block: "nearest" });
  }

  /** The card shows the open reference: title, quoted passage and, for http(s), a link. */
  function renderCard(view) {
    var ref = view.openRef === null ? null : view.refs[view.openRef];
    if (!ref) view.openRef = null;
    view.node.querySelectorAll("[data-ref]").forEach(function (button) {
      button.setAttribute("aria-expanded", String(button.getAttribute("data-ref") === view.openRef));
    });
    view.card.replaceChildren();
    view.card.hidden = !ref;
    if (!ref) return;
    view.card.appendChild(el("h3", {}, "[" + view.openRef + "] " + ref.title));
    view.card.appendChild(el("blockquote", {}, ref.quote));
    var href = safeUrl(ref.url);
    if (href) {
      view.card.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer" },
        view.text.openDocument));
    }
  }

  /** A button that toggles reference `n` (a chip in the answer or an entry under Sources). */
  function referenceButton(view, n, className, content) {
    var button = el("button", {
      type: "button", class: className, "data-ref": n, "aria-controls": view.cardId,
      "aria-expanded": String(view.openRef === n),
    }, content);
    button.addEventListener("click", function () { toggleReference(view, n); });
    return button;
  }

  function chip(view, n) {
    var button = referenceButton(view, n, "chip");
    button.appendChild(el("span", {}, n));
    button.setAttribute("aria-label", view.text.source + " " + n + ": " + view.refs[n].title);
    return button;
  }

  /** Text with each known [n] turned into a chip button; everything else stays text. */
  function citedNodes(view, content) {
    var nodes = [];
    var last = 0;
    content.replace(CITATION_MARK, function (mark, numbers, offset) {
      var known = numbers.split(/\s*[,，]\s*/).filter(function (n) { return view.refs[n]; });
      if (!known.length) return mark;
      nodes.push(document.createTextNode(content.slice(last, offset)));
      known.forEach(function (n) { nodes.push(chip(view, n)); });
      last = offset + mark.length;
      return mark;
    });
    nodes.push(document.createTextNode(content.slice(last)));
    return nodes;
  }

  /** Chips for the [n] in every text of rendered markdown, except in code and links. */
  function addChips(view, fragment) {
    var walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
    var texts = [];
    while (walker.nextNode()) {
      var parent = walker.currentNode.parentNode;
      if (!(parent.closest && parent.closest("code, pre, a"))) texts.push(walker.currentNode);
    }
    texts.forEach(function (node) {
      if (node.nodeValue.search(CITATION_MARK) < 0) return;
      node.replaceWith.apply(node, citedNodes(view, node.nodeValue));
    });
  }

  /** The answer, as sanitised markdown where possible, with citation chips. */
  function renderAnswer(view, answer) {
    if (markdown) {
      var fragment = markdown(answer);
      addChips(view, fragment);
      view.bubble.classList.add("md");
      view.bubble.replaceChildren(fragment);
    } else {
      view.bubble.replaceChildren.apply(view.bubble, citedNodes(view, answer));
    }
    followLog();
  }

  /**
   * One entry per document, in order of its first reference: several passages of one
   * document (while streaming) or several citations of it are listed once, as "[1, 3] Title".
   */
  function documentsOf(refs) {
    var byDoc = {};
    var documents = [];
    Object.keys(refs).sort(function (a, b) { return a - b; }).forEach(function (n) {
      var key = refs[n].docId || refs[n].title;
      if (!byDoc[key]) {
        byDoc[key] = { numbers: [], title: refs[n].title };
        documents.push(byDoc[key]);
      }
      byDoc[key].numbers.push(n);
    });
    documents.forEach(function (doc) {
      doc.label = "[" + doc.numbers.join(", ") + "] " + doc.title;
    });
    return documents;
  }

  function renderSources(view) {
    view.sources.replaceChildren();
    var documents = documentsOf(view.refs);
    if (!documents.length) return;
    view.sources.appendChild(el("span", {}, view.text.sources));
    var list = el("ol");
    documents.forEach(function (doc) {
      var item = el("li");
      item.appendChild(referenceButton(view, doc.numbers[0], "source", doc.label));
      // The entry opens the document's first passage; its other passages (another part, or
      // the whole passage a leading sentence was cut from) each get a chip of their own.
      doc.numbers.slice(1).forEach(function (n) { item.appendChild(chip(view, n)); });
      list.appendChild(item);
    });
    view.sources.appendChild(list);
    followLog();
  }

  var messageCount = 0;

  function addUserMessage(content) {
    var node = el("div", { class: "msg msg-user" });
    node.appendChild(el("span", { class: "visually-hidden" }, text.you + ": "));
    node.appendChild(el("p", { class: "bubble" }, content));
    appendToLog(node);
  }

  /**
   * An assistant message whose parts are filled in as the answer arrives. What it says about
   * the answer (status, refusal, problems) is in the language of `question`.
   */
  function addAssistantMessage(question, history) {
    var cardId = "card-" + ++messageCount;
    var node = el("div", { class: "msg msg-assistant" });
    var said = MESSAGES[questionLanguage(question || "")];
    var view = {
      node: node,
      text: said,
      cardId: cardId,
      refs: {},
      openRef: null, // the reference number (a string) shown in the card
      status: el("p", { class: "status" }),
      label: el("p", { class: "refused-label", hidden: "" }, said.notFound),
      bubble: el("div", { class: "bubble", hidden: "" }),
      note: el("p", { class: "stopped-note", hidden: "" }, said.stopped),
      card: el("div", { id: cardId, class: "card", hidden: "" }),
      sources: el("div", { class: "sources" }),
      tools: el("div", { class: "tools", hidden: "" }),
      question: question || "",
      history: history || [],
      statusText: "",
      started: 0,
    };
    node.appendChild(el("span", { class: "visually-hidden" }, text.assistant + ": "));
    [view.status, view.label, view.bubble, view.note, view.card, view.sources, view.tools]
      .forEach(function (part) { node.appendChild(part); });
    appendToLog(node);
    return view;
  }

  /** The status line: the current step and, while an answer is awaited, the seconds so far. */
  function setStatus(view, message) {
    view.statusText = message || "";
    var seconds = view.started ? Math.floor((Date.now() - view.started) / 1000) : 0;
    view.status.textContent = view.statusText + (seconds >= 1 ? " · " + seconds + " s" : "");
    view.status.hidden = !message;
  }

  /** Put `content` on the clipboard (the async API where allowed, else a selection copy). */
  function copyText(content) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(content);
    }
    return new Promise(function (resolve, reject) {
      var area = el("textarea", { readonly: "", style: "position:fixed;top:-1000px;opacity:0" });
      area.value = content;
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand("copy");
      area.remove();
      if (done) resolve();
      else reject(new Error("copy refused"));
    });
  }

  /** A Copy button under a finished answer: the answer, then its sources, as plain text. */
  function addCopyButton(view, entry) {
    view.tools.replaceChildren();
    view.tools.hidden = !entry.content || !!entry.problem;
    if (view.tools.hidden) return;
    var button = el("button", { type: "button", class: "copy" }, view.text.copy);
    button.addEventListener("click", function () {
      var lines = documentsOf(entry.refs || {}).map(function (doc) { return doc.label; });
      copyText(entry.content + (lines.length ? "\n\n" + lines.join("\n") : "")).then(
        function () {
          button.textContent = view.text.copied;
          setTimeout(function () { button.textContent = view.text.copy; }, 2000);
        },
        function () { /* the page forbids it: nothing to show beyond the unchanged label */ }
      );
    });
    view.tools.appendChild(button);
    if (entry.complete) addFeedback(view, entry);
  }

  /** The citations of an answer as POST /v1/feedback takes them. */
  function feedbackCitations(refs) {
    return Object.keys(refs).map(function (n) {
      var ref = refs[n];
      return { n: Number(n), doc_id: ref.docId || ref.title || "?", title: ref.title,
        quote: ref.quote, start: ref.start, end: ref.end };
    });
  }

  /**
   * Thumbs up or down under a finished answer; either opens an optional comment and a Send
   * button. What is sent is the turn as the reader saw it: question, answer, citations and
   * the history it was asked with, so a thumbs-down can become an evaluation item.
   */
  function addFeedback(view, entry) {
    var box = el("span", { class: "feedback", role: "group", "aria-label": view.text.helpful + "?" });
    view.tools.appendChild(box);
    if (entry.feedback) {
      box.appendChild(el("span", { class: "thanks" }, view.text.thanks));
      return;
    }
    var form = el("form", { class: "feedback-form", hidden: "" });
    var comment = el("textarea", { class: "feedback-comment", rows: "2", maxlength: "2000",
      "aria-label": view.text.comment, placeholder: view.text.comment });
    var send = el("button", { type: "submit", class: "feedback-send" }, view.text.sendFeedback);
    var problem = el("span", { class: "feedback-problem", role: "status" });
    [comment, send, problem].forEach(function (part) { form.appendChild(part); });
    var rating = null;
    [["up", "\uD83D\uDC4D", view.text.helpful], ["down", "\uD83D\uDC4E", view.text.notHelpful]]
      .forEach(function (choice) {
        var button = el("button", { type: "button", class: "rate rate-" + choice[0],
          "aria-pressed": "false", "aria-label": choice[2], title: choice[2] }, choice[1]);
        button.addEventListener("click", function () {
          rating = choice[0];
          box.querySelectorAll(".rate").forEach(function (other) {
            other.setAttribute("aria-pressed", String(other === button));
          });
          form.hidden = false;
          comment.focus();
        });
        box.appendChild(button);
      });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!rating) return;
      send.disabled = true;
      problem.textContent = "";
      try {
        var response = await fetch(apiBase + "/v1/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            question: view.question, answer: entry.content, rating: rating,
            comment: comment.value.trim(), refused: !!entry.refused,
            citations: feedbackCitations(entry.refs || {}), history: view.history,
          }),
        });
        if (!response.ok) throw new Error(await errorDetail(response));
        entry.feedback = rating;
        saveConversation();
        form.remove();
        box.replaceChildren(el("span", { class: "thanks", role: "status" }, view.text.thanks));
      } catch (error) {
        send.disabled = false;
        problem.textContent = fill(view.text.feedbackFailed, { detail: error.message || error });
      }
    });
    view.tools.appendChild(form);
  }

  /** Show an error or notice as the assistant's reply. */
  function showProblem(view, message, kind) {
    setStatus(view, "");
    view.node.classList.add(kind);
    view.bubble.textContent = message;
    view.bubble.hidden = false;
    followLog();
  }

  /** Render a finished assistant entry: an answer, a refusal, a problem or a stopped answer. */
  function showFinal(view, entry) {
    if (entry.problem) {
      showProblem(view, entry.content, entry.problem);
      return;
    }
    view.refs = entry.refs || {};
    view.openRef = null; // final citations are renumbered: close a card opened while streaming
    setStatus(view, "");
    view.node.classList.toggle("refused", !!entry.refused);
    view.label.hidden = !entry.refused;
    view.bubble.hidden = !entry.content;
    renderAnswer(view, entry.content);
    if (entry.refused) view.sources.replaceChildren();
    else renderSources(view);
    renderCard(view);
    view.note.hidden = !entry.stopped;
    addCopyButton(view, entry);
  }

  var atBottom = true; // follow a growing answer unless the reader scrolled up

  log.addEventListener("scroll", function () {
    atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });

  function followLog() {
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function appendToLog(node) {
    var empty = log.querySelector(".empty");
    if (empty) empty.remove();
    log.appendChild(node);
    atBottom = true;
    followLog();
  }

  /** The empty chat: an invitation and the suggested questions, each asked with a click. */
  function emptyState() {
    var empty = el("div", { class: "empty" });
    empty.appendChild(el("p", {}, text.empty));
    if (suggestions.length) {
      var list = el("div", { class: "suggestions", role: "group", "aria-label": text.suggestions });
      list.appendChild(el("p", {}, text.suggestions));
      suggestions.forEach(function (question) {
        var button = el("button", { type: "button", class: "suggestion" }, question);
        button.addEventListener("click", function () {
          if (!current) ask(question);
        });
        list.appendChild(button);
      });
      empty.appendChild(list);
    }
    return empty;
  }

  function renderConversation() {
    log.replaceChildren();
    if (!conversation.length) log.appendChild(emptyState());
    var question = "";
    conversation.forEach(function (entry, i) {
      if (entry.role === "user") {
        question = entry.content;
        addUserMessage(entry.content);
      } else {
        showFinal(addAssistantMessage(question, historyFor(conversation.slice(0, i - 1))), entry);
      }
    });
  }

  // --- talking to the server ---------------------------------------------------------

  /** Parse a Server-Sent Events byte stream, calling onEvent(name, data) per event. */
  async function readEvents(body, onEvent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function dispatch(block) {
      var name = "message";
      var data = [];
      block.split(/\r\n|\r|\n/).forEach(function (line) {
        if (!line || line[0] === ":") return; // blank or comment (keep-alive ping)
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (data.length) onEvent(name, data.join("\n"));
    }
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = blocks.pop();
      blocks.forEach(dispatch);
    }
    buffer += decoder.decode();
    if (buffer.trim()) dispatch(buffer);
  }

  function retryAfterSeconds(response) {
    var header = response.headers.get("Retry-After");
    var seconds = Number(header);
    if (header && Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
    var date = header ? Date.parse(header) : NaN;
    if (Number.isFinite(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
    return DEFAULT_RETRY_S;
  }

  async function errorDetail(response) {
    try {
      var body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) {
        return body.detail.map(function (item) { return item.msg || JSON.stringify(item); }).join("; ");
      }
    } catch (_) {
      /* not JSON: fall back to the status line */
    }
    return response.status + " " + response.statusText;
  }

  var current = null; // {controller, stopped, cancelWait} of the question being answered

  function setAnswering(answering) {
    var stopHadFocus = shadow.activeElement === stopButton;
    sendButton.hidden = answering;
    stopButton.hidden = !answering;
    sendButton.disabled = answering;
    if (stopHadFocus) input.focus(); // do not drop keyboard focus with the hidden button
  }

  function problemEntry(message, kind) {
    return { role: "assistant", content: message, problem: kind, complete: false };
  }

  /** Wait `seconds`, showing a countdown; resolves false when the user pressed stop. */
  function countdown(view, template, seconds) {
    return new Promise(function (resolve) {
      var left = seconds;
      showProblem(view, fill(template, { s: left }), "notice");
      var timer = setInterval(function () {
        left -= 1;
        if (left > 0) {
          view.bubble.textContent = fill(template, { s: left });
          return;
        }
        clearInterval(timer);
        view.node.classList.remove("notice");
        view.bubble.hidden = true;
        resolve(true);
      }, 1000);
      current.cancelWait = function () { clearInterval(timer); resolve(false); };
    });
  }

  /**
   * One attempt: POST the question and stream the answer into `view`.
   * Resolves {entry} when the stream ended, or {response} for an HTTP error status.
   */
  async function attempt(view, question, history) {
    var raw = "";
    var entry = null;
    var pendingFrame = 0;
    current.controller = new AbortController();
    setStatus(view, view.text.searching);
    var response = await fetch(apiBase + "/v1/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question: question, history: history, stream: true }),
      signal: current.controller.signal,
    });
    if (!response.ok) return { response: response };

    view.node.setAttribute("aria-busy", "true"); // announce the answer once, not per token
    view.node.classList.add("streaming");
    await readEvents(response.body, function (name, data) {
      var payload = JSON.parse(data);
      if (name === "passages") {
        view.refs = referencesFrom(payload.passages, "text");
        renderSources(view);
        setStatus(view, view.text.writing);
      } else if (name === "token") {
        raw += payload.text;
        view.partial = raw;
        view.bubble.hidden = false;
        if (!pendingFrame) {
          pendingFrame = requestAnimationFrame(function () {
            pendingFrame = 0;
            if (!entry) renderAnswer(view, raw);
          });
        }
      } else if (name === "done") {
        entry = {
          role: "assistant", content: payload.answer, refused: !!payload.refused,
          refs: referencesFrom(payload.citations, "quote"), complete: true,
        };
      } else if (name === "error") {
        entry = problemEntry(fill(view.text.failed, { detail: payload.detail }), "error");
      }
    });
    return { entry: entry || problemEntry(view.text.interrupted, "error") };
  }

  /** The entry to show for an HTTP error status, or null when it is worth retrying. */
  async function entryForStatus(response, said) {
    if (response.status === 503 || response.status === 429) return null;
    if (response.status === 413) return problemEntry(said.tooLong, "error");
    var detail = await errorDetail(response);
    if (response.status === 422) return problemEntry(said.invalid + " " + detail, "error");
    return problemEntry(fill(said.failed, { detail: detail }), "error");
  }

  /** Whether the server answers this page: "ok", "starting", "blocked" or "down". */
  async function probe() {
    var url = apiBase + "/readyz";
    try {
      var response = await fetch(url, { cache: "no-store" });
      return response.status === 503 ? "starting" : "ok";
    } catch (_) {
      try {
        // An opaque request is not subject to CORS: if it gets through, the server is up
        // and the browser only kept its answer from this page.
        await fetch(url, { mode: "no-cors", cache: "no-store" });
        return "blocked";
      } catch (_) {
        return "down";
      }
    }
  }

  function connectionMessage(state, said) {
    if (state === "blocked") return fill(said.blocked, { api: apiBase });
    return state === "starting" ? said.starting : said.unreachable;
  }

  var checking = null; // the probe under way, shared by everyone who asks meanwhile
  var failedQuestion = null; // asked again by Retry once the server answers

  /** Probe the server and show the result above the conversation (nothing when it is ok). */
  function checkConnection() {
    if (!checking) {
      checking = probe().then(function (state) {
        checking = null;
        connection.hidden = state === "ok";
        connectionText.textContent = state === "ok" ? "" : connectionMessage(state, text);
        if (state === "blocked" && window.console) {
          console.warn("ragqa widget: " + apiBase + " does not accept requests from " +
            location.origin + ": add it to RAGQA_CORS_ORIGINS, or check data-api.");
        }
        return state;
      });
    }
    return checking;
  }

  /** Ask `question`, retrying while the server is busy, until answered, failed or stopped. */
  async function ask(question) {
    var history = historyFor(conversation);
    conversation.push({ role: "user", content: question });
    saveConversation();
    addUserMessage(question);
    var view = addAssistantMessage(question, history);
    var said = view.text;
    var entry = null;
    current = { controller: null, stopped: false, cancelWait: null, discarded: false };
    setAnswering(true);
    view.started = Date.now();
    var ticker = setInterval(function () {
      if (view.statusText) setStatus(view, view.statusText);
    }, 1000);
    try {
      var waited = 0;
      while (!entry && !current.stopped) {
        var outcome = await attempt(view, question, history);
        entry = outcome.entry || (await entryForStatus(outcome.response, said));
        if (entry) break;
        var seconds = retryAfterSeconds(outcome.response);
        if (waited + seconds > MAX_RETRY_WAIT_S) {
          entry = problemEntry(said.stillBusy, "notice");
          break;
        }
        waited += seconds;
        var template = outcome.response.status === 503 ? said.busy : said.rateLimited;
        await countdown(view, template, seconds);
      }
    } catch (error) {
      if (!current.stopped && error instanceof TypeError) {
        // What fetch throws for every network failure: ask the server what kind it was.
        var state = await checkConnection();
        entry = problemEntry(state === "ok" ? said.interrupted : connectionMessage(state, said),
          "error");
        if (state !== "ok") failedQuestion = question;
      } else if (!current.stopped) {
        entry = problemEntry(fill(said.failed, { detail: error.message || String(error) }),
          "error");
      }
    }
    clearInterval(ticker);
    view.started = 0;
    if (!entry) {
      // stopped: keep what arrived so far, marked as such (it is left out of later history)
      entry = { role: "assistant", content: view.partial || "", refs: view.refs,
        stopped: true, complete: false };
    }
    view.node.classList.remove("streaming", "notice");
    view.node.removeAttribute("aria-busy");
    if (!current.discarded) { // "New chat" during the answer: it belongs to no conversation
      conversation.push(entry);
      saveConversation();
      showFinal(view, entry);
    }
    current = null;
    setAnswering(false);
  }

  function stop() {
    if (!current) return;
    current.stopped = true;
    if (current.controller) current.controller.abort(); // the server stops generating
    if (current.cancelWait) current.cancelWait();
  }

  // --- interaction -------------------------------------------------------------------

  function openPanel() {
    panel.hidden = false;
    checkConnection();
    launcher.setAttribute("aria-expanded", "true");
    log.scrollTop = log.scrollHeight;
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function submit() {
    var question = input.value.trim();
    if (!question || current) return;
    input.value = "";
    ask(question);
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) openPanel();
    else closePanel();
  });
  closeButton.addEventListener("click", closePanel);
  retryButton.addEventListener("click", function () {
    checkConnection().then(function (state) {
      if (state !== "ok" || current || !failedQuestion) return;
      var question = failedQuestion;
      failedQuestion = null;
      ask(question);
    });
  });
  stopButton.addEventListener("click", stop);
  clearButton.addEventListener("click", function () {
    if (current) current.discarded = true;
    stop();
    conversation = [];
    saveConversation();
    renderConversation();
    input.focus();
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", function (event) {
    // Enter confirms an IME candidate while composing Chinese: only a plain Enter sends.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      closePanel();
    }
  });

  var ownPadding = null; // the page's own bottom padding, before the launcher's room

  /** Pad the page's end by the launcher's height, so it never hides the last lines. */
  function reserveRoom() {
    var body = document.body;
    if (!body || !launcher.isConnected) return;
    if (ownPadding === null) ownPadding = getComputedStyle(body).paddingBottom || "0px";
    var room = Math.ceil(window.innerHeight - launcher.getBoundingClientRect().top + 8);
    body.style.paddingBottom = "calc(" + ownPadding + " + " + Math.max(room, 0) + "px)";
  }

  function attach() {
    document.body.appendChild(host);
    reserveRoom();
    window.addEventListener("resize", reserveRoom);
  }

  renderConversation();
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);
})();
