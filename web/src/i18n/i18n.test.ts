import { describe, expect, it } from "vitest";
import { en } from "./en";
import { zh } from "./zh";
import { detectLanguage, translate } from "./index";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("translations", () => {
  it("Chinese and English have exactly the same keys", () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
  });

  it("no text is empty and both languages use the same placeholders", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[key].trim(), key).not.toBe("");
      expect(zh[key].trim(), key).not.toBe("");
      expect(placeholders(zh[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it("fills in placeholders", () => {
    expect(translate("en", "join.accept", { org: "Acme" })).toBe("Join Acme");
    expect(translate("zh", "join.accept", { org: "Acme" })).toBe("加入 Acme");
  });
});

describe("language choice", () => {
  it("is Chinese when the browser prefers Chinese", () => {
    expect(detectLanguage(["zh-CN", "en-US"], null)).toBe("zh");
    expect(detectLanguage(["zh"], null)).toBe("zh");
    expect(detectLanguage(["zh-TW"], null)).toBe("zh");
  });

  it("is English otherwise", () => {
    expect(detectLanguage(["en-US", "zh-CN"], null)).toBe("en");
    expect(detectLanguage(["de-DE"], null)).toBe("en");
    expect(detectLanguage([], null)).toBe("en");
  });

  it("skips languages we do not have", () => {
    expect(detectLanguage(["fr-FR", "zh-CN"], null)).toBe("zh");
  });

  it("keeps the person's own choice", () => {
    expect(detectLanguage(["zh-CN"], "en")).toBe("en");
    expect(detectLanguage(["en-US"], "zh")).toBe("zh");
  });
});
