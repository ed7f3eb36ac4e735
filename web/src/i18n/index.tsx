import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { setAcceptLanguage, setFallbackMessages } from "../api/client";
import { en, type MessageKey } from "./en";
import { zh } from "./zh";

export type Lang = "zh" | "en";
export const LANGS: Lang[] = ["zh", "en"];
export const LANG_STORAGE_KEY = "tack.lang";

const dictionaries: Record<Lang, Record<MessageKey, string>> = { en, zh };

export type Vars = Record<string, string | number | null | undefined>;

/** The language for this browser: the stored choice, else the first of navigator.languages we speak. */
export function detectLanguage(
  languages: readonly string[] | undefined = typeof navigator !== "undefined"
    ? navigator.languages?.length
      ? navigator.languages
      : [navigator.language]
    : [],
  stored: string | null = readStored(),
): Lang {
  if (stored === "zh" || stored === "en") return stored;
  for (const raw of languages ?? []) {
    const tag = (raw || "").toLowerCase();
    if (tag === "zh" || tag.startsWith("zh-")) return "zh";
    if (tag === "en" || tag.startsWith("en-")) return "en";
  }
  return "en";
}

function readStored(): string | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage.getItem(LANG_STORAGE_KEY) : null;
  } catch {
    return null;
  }
}

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const template = dictionaries[lang][key] ?? en[key] ?? key;
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (match, name: string) => {
    const value = vars[name];
    return value === undefined || value === null ? match : String(value);
  });
}

/** The BCP 47 tag used for dates and sent to the server as the account's locale. */
export function localeTag(lang: Lang): string {
  return lang === "zh" ? "zh-CN" : "en";
}

export type TFunction = (key: MessageKey, vars?: Vars) => string;

interface I18nValue {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: TFunction;
  formatDate: (iso: string | null | undefined, withTime?: boolean) => string;
}

const I18nContext = createContext<I18nValue | null>(null);

export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => initial ?? detectLanguage());

  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(LANG_STORAGE_KEY, next);
    } catch {
      /* storage may be unavailable; the choice then lasts for this page only */
    }
  }, []);

  useEffect(() => {
    document.documentElement.lang = localeTag(lang);
    setAcceptLanguage(lang === "zh" ? "zh-CN,zh;q=0.9,en;q=0.5" : "en");
    setFallbackMessages({ network: translate(lang, "error.network"), unexpected: translate(lang, "error.unexpected") });
  }, [lang]);

  const value = useMemo<I18nValue>(() => {
    const dateFmt = new Intl.DateTimeFormat(localeTag(lang), { year: "numeric", month: "short", day: "numeric" });
    const dateTimeFmt = new Intl.DateTimeFormat(localeTag(lang), {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
    return {
      lang,
      setLang,
      t: (key, vars) => translate(lang, key, vars),
      formatDate: (iso, withTime = false) => {
        if (!iso) return "";
        const date = new Date(iso);
        if (Number.isNaN(date.getTime())) return iso;
        return (withTime ? dateTimeFmt : dateFmt).format(date);
      },
    };
  }, [lang, setLang]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18nValue {
  const value = useContext(I18nContext);
  if (!value) throw new Error("useI18n must be used inside I18nProvider");
  return value;
}

export type { MessageKey };
