import { ApartmentOutlined, RightOutlined, SearchOutlined } from "@ant-design/icons";
import { Breadcrumb, Card, Col, Empty, Flex, Input, List, Row, Skeleton, Tree, Typography } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { orgs as orgsApi } from "../api/endpoints";
import type { Department, DepartmentView, Member } from "../api/types";
import { ErrorAlert } from "../components/ErrorAlert";
import { MemberDrawer } from "../components/MemberDrawer";
import { MemberList } from "../components/MemberList";
import { useI18n } from "../i18n";
import { toTreeData, pathTo } from "../lib/tree";
import { useDebounced } from "../lib/useAsync";
import { usePaged } from "../lib/usePaged";
import { useCurrentOrg } from "../orgs/OrgsContext";
import { useDepartments } from "../orgs/useDepartments";

const PAGE_SIZE = 30;

export function ContactsPage() {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const departments = useDepartments(org.id);
  const [params, setParams] = useSearchParams();
  const selected = params.get("dept") ?? org.root_department_id ?? departments.tree[0]?.dept.id ?? null;
  const [query, setQuery] = useState("");
  const debounced = useDebounced(query.trim(), 300);
  const searching = debounced.length > 0;
  const [openMember, setOpenMember] = useState<string | null>(null);

  const select = (id: string) => {
    setQuery("");
    setParams(id === org.root_department_id ? {} : { dept: id });
  };

  const view = usePaged<Member, DepartmentView>(
    async (cursor, signal) => {
      const result = await orgsApi.contacts(
        org.id,
        { department_id: selected ?? undefined, cursor, limit: PAGE_SIZE },
        signal,
      );
      return { page: result.members, extra: result };
    },
    [org.id, selected],
    !searching,
  );

  const search = usePaged<Member>(
    async (cursor, signal) => ({
      page: await orgsApi.members(org.id, { q: debounced, cursor, limit: PAGE_SIZE }, signal),
    }),
    [org.id, debounced],
    searching,
  );

  const treeData = useMemo(
    () => toTreeData(departments.tree, { label: (d) => (d.member_count ? `${d.name} (${d.member_count})` : d.name) }),
    [departments.tree],
  );
  // The top level and the way down to the chosen department stay open; the rest opens on demand.
  const [expanded, setExpanded] = useState<string[]>([]);
  useEffect(() => {
    const keys = departments.tree.map((n) => n.dept.id);
    if (selected) keys.push(...pathTo(departments.list, selected).map((d) => d.id));
    setExpanded((previous) => [...new Set([...previous, ...keys])]);
  }, [departments.tree, departments.list, selected]);

  return (
    <div>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("contacts.title")}</Typography.Title>
        <Input
          allowClear
          size="large"
          prefix={<SearchOutlined />}
          placeholder={t("contacts.searchPlaceholder")}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          style={{ maxWidth: 420 }}
          data-testid="contacts-search"
          aria-label={t("contacts.searchPlaceholder")}
        />
      </div>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={8} lg={7} xl={6}>
          <Card title={t("contacts.departments")} size="small" styles={{ body: { padding: 8 } }}>
            {departments.loading && !departments.list.length ? (
              <Skeleton active paragraph={{ rows: 4 }} />
            ) : departments.error ? (
              <ErrorAlert error={departments.error} onRetry={departments.reload} />
            ) : treeData.length ? (
              <Tree
                blockNode
                treeData={treeData}
                selectedKeys={selected ? [selected] : []}
                expandedKeys={expanded}
                onExpand={(keys) => setExpanded(keys as string[])}
                onSelect={(keys) => keys.length && select(String(keys[0]))}
                data-testid="contacts-tree"
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("contacts.noDepartments")} />
            )}
          </Card>
        </Col>
        <Col xs={24} md={16} lg={17} xl={18}>
          <Card>
            {searching ? (
              <>
                <Typography.Text type="secondary" style={{ display: "block", marginBottom: 8 }}>
                  {t("contacts.resultsFor", { q: debounced })}
                </Typography.Text>
                {search.error ? <ErrorAlert error={search.error} onRetry={search.reload} style={{ marginBottom: 12 }} /> : null}
                <MemberList
                  members={search.items}
                  departments={departments}
                  loading={search.loading}
                  hasMore={search.hasMore}
                  loadingMore={search.loadingMore}
                  onLoadMore={search.loadMore}
                  onOpen={(m) => setOpenMember(m.id)}
                  emptyText={t("contacts.noMatches", { q: debounced })}
                />
              </>
            ) : (
              <DepartmentPanel
                view={view.extra}
                loading={view.loading}
                error={view.error}
                onRetry={view.reload}
                onSelect={select}
              >
                <MemberList
                  members={view.items}
                  departments={departments}
                  loading={view.loading}
                  hasMore={view.hasMore}
                  loadingMore={view.loadingMore}
                  onLoadMore={view.loadMore}
                  onOpen={(m) => setOpenMember(m.id)}
                  emptyText={t("contacts.noMembers")}
                />
              </DepartmentPanel>
            )}
          </Card>
        </Col>
      </Row>
      <MemberDrawer orgId={org.id} memberId={openMember} onClose={() => setOpenMember(null)} departmentLabel={departments.label} />
    </div>
  );
}

function DepartmentPanel({
  view,
  loading,
  error,
  onRetry,
  onSelect,
  children,
}: {
  view: DepartmentView | undefined;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  onSelect: (id: string) => void;
  children: React.ReactNode;
}) {
  const { t } = useI18n();
  if (error) return <ErrorAlert error={error} onRetry={onRetry} />;
  if (!view) return <Skeleton active avatar paragraph={{ rows: 3 }} />;
  const crumbs: Department[] = [...view.path, view.department];
  return (
    <>
      <Breadcrumb
        data-testid="contacts-breadcrumb"
        style={{ marginBottom: 12 }}
        items={crumbs.map((d, i) => ({
          key: d.id,
          title:
            i === crumbs.length - 1 ? (
              <Typography.Text strong>{d.name}</Typography.Text>
            ) : (
              <a
                href="#"
                onClick={(e) => {
                  e.preventDefault();
                  onSelect(d.id);
                }}
              >
                {d.name}
              </a>
            ),
        }))}
      />
      {view.departments.length ? (
        <List
          size="small"
          bordered
          style={{ marginBottom: 16, opacity: loading ? 0.6 : 1 }}
          dataSource={view.departments}
          data-testid="contacts-subdepartments"
          renderItem={(d) => (
            <List.Item className="tack-clickable" onClick={() => onSelect(d.id)} data-testid="subdepartment-row">
              <Flex justify="space-between" align="center" style={{ width: "100%" }}>
                <span>
                  <ApartmentOutlined style={{ marginRight: 8, color: "#1677ff" }} />
                  {d.name}
                </span>
                <Typography.Text type="secondary">
                  {t("contacts.memberCount", { count: d.member_count })} <RightOutlined style={{ fontSize: 10 }} />
                </Typography.Text>
              </Flex>
            </List.Item>
          )}
        />
      ) : null}
      <Typography.Text type="secondary" style={{ display: "block", marginBottom: 4 }}>
        {t("contacts.people")}
      </Typography.Text>
      {children}
    </>
  );
}
