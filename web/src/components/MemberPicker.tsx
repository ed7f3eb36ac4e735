import { Select, Spin } from "antd";
import { useEffect, useState } from "react";
import { orgs as orgsApi } from "../api/endpoints";
import type { Member, Role } from "../api/types";
import { useI18n } from "../i18n";
import { useDebounced } from "../lib/useAsync";

/** Chooses one person of the organization, searching as you type (name, pinyin, mobile, staff id). */
export function MemberPicker({
  orgId,
  value,
  onChange,
  initialLabel,
  exclude = [],
  role,
  placeholder,
  testId,
}: {
  orgId: string;
  value?: string | null;
  onChange?: (value: string | null) => void;
  initialLabel?: string | null;
  exclude?: string[];
  role?: Role;
  placeholder?: string;
  testId?: string;
}) {
  const { t } = useI18n();
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), 250);
  const [options, setOptions] = useState<Member[]>([]);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    orgsApi
      .members(orgId, { q: query || undefined, role: role ?? undefined, limit: 20 }, abort.signal)
      .then((page) => setOptions(page.items))
      .catch(() => setOptions([]))
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
  }, [orgId, query, role]);

  const list = options.filter((m) => !exclude.includes(m.id));
  const items = list.map((m) => ({
    value: m.id,
    label: m.title ? `${m.display_name} · ${m.title}` : m.display_name,
  }));
  if (value && !items.some((o) => o.value === value)) items.unshift({ value, label: initialLabel ?? value });

  return (
    <Select
      data-testid={testId}
      style={{ width: "100%" }}
      showSearch
      allowClear
      value={value ?? undefined}
      placeholder={placeholder ?? t("member.pickPerson")}
      filterOption={false}
      onSearch={setSearch}
      onChange={(v) => onChange?.((v as string | undefined) ?? null)}
      notFoundContent={loading ? <Spin size="small" /> : t("contacts.noMatches", { q: query })}
      options={items}
    />
  );
}
