import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { looksLikeMarkdown, renderMessageText, safeUrl } from "./markdown";

const html = (source: string, options = {}) => render(<>{renderMessageText(source, options)}</>).container.innerHTML;

describe("markdown", () => {
  it("renders the common syntax", () => {
    const out = html("# Title\n**bold** and *it* and `x<y` and ~~no~~\n- one\n- two\n\n1. first\n> quoted\n```\n<b>code</b>\n```");
    expect(out).toContain('role="heading"');
    expect(out).toContain("<strong>bold</strong>");
    expect(out).toContain("<em>it</em>");
    expect(out).toContain('<code class="tack-md-code">x&lt;y</code>');
    expect(out).toContain("<del>no</del>");
    expect(out).toContain("<ul><li>one</li><li>two</li></ul>");
    expect(out).toContain('<ol start="1"><li>first</li></ol>');
    expect(out).toContain('<blockquote class="tack-md-quote">quoted</blockquote>');
    expect(out).toContain("<pre class=\"tack-md-pre\"><code>&lt;b&gt;code&lt;/b&gt;</code></pre>");
  });

  it("never lets HTML or script links through", () => {
    const out = html('<img src=x onerror="alert(1)"> [click](javascript:alert(1)) <script>alert(2)</script>');
    expect(out).not.toContain("<img");
    expect(out).not.toContain("<script");
    expect(out).not.toContain('href="javascript');
    expect(out).toContain("&lt;img src=x");
    expect(out).toContain("[click](javascript:alert(1))");
    expect(safeUrl("JavaScript:alert(1)")).toBeNull();
    expect(safeUrl(" https://example.com ")).toBe("https://example.com");
  });

  it("links URLs and safe markdown links, opening them in a new tab", () => {
    const out = html("see https://example.com/a?b=1. and [docs](https://tack.example/docs)");
    expect(out).toContain('<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">https://example.com/a?b=1</a>.');
    expect(out).toContain('<a href="https://tack.example/docs" target="_blank" rel="noopener noreferrer">docs</a>');
  });

  it("highlights mentions and keeps plain text plain", () => {
    const out = html("hi @张三 and @all, **not bold**\nnext line", { plain: true, mentionNames: ["张三", "all"] });
    expect(out).toContain('<span class="tack-mention">@张三</span>');
    expect(out).toContain('<span class="tack-mention">@all</span>');
    expect(out).toContain("**not bold**<br>next line");
  });

  it("tells markdown from plain text", () => {
    expect(looksLikeMarkdown("**important**")).toBe(true);
    expect(looksLikeMarkdown("- item")).toBe(true);
    expect(looksLikeMarkdown("see `code`")).toBe(true);
    expect(looksLikeMarkdown("hello, how are you? 2*3=6")).toBe(false);
  });
});
