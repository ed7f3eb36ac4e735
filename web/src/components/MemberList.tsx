import { Avatar, Button, Empty, Flex, List, Tag, Typography } from "antd";
import type { Department, Member } from "../api/types";
import { useI18n } from "../i18n";

const COLORS = ["#1677ff", "#13a8a8", "#722ed1", "#eb2f96", "#fa8c16", "#52c41a", "#2f54eb", "#faad14"];

export function avatarColor(seed: string): string {
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return COLORS[hash % COLORS.length];
}

export function MemberAvatar({ name, id, size = 40 }: { name: string; id: string; size?: number }) {
  const chars = [...name.trim()];
  // Chinese names show their last two characters (as people are called), others their initial.
  const label = /[\u4e00-\u9fff]/.test(name) ? chars.slice(-2).join("") : (chars[0] ?? "?").toUpperCase();
  return (
    <Avatar size={size} style={{ background: avatarColor(id), flexShrink: 0, fontSize: size > 48 ? 22 : 14 }}>
      {label}
    </Avatar>
  );
}

export function MemberList({
  members,
  departments,
  loading,
  hasMore,
  loadingMore,
  onLoadMore,
  onOpen,
  emptyText,
}: {
  members: Member[];
  departments: { byId: Map<string, Department>; label: (id: string, fallback?: string) => string };
  loading: boolean;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
  onOpen: (member: Member) => void;
  emptyText: string;
}) {
  const { t } = useI18n();
  return (
    <List
      loading={loading}
      dataSource={members}
      locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={emptyText} /> }}
      loadMore={
        hasMore ? (
          <Flex justify="center" style={{ marginTop: 12 }}>
            <Button onClick={onLoadMore} loading={loadingMore} data-testid="load-more">
              {t("common.loadMore")}
            </Button>
          </Flex>
        ) : null
      }
      renderItem={(member) => {
        const deptNames = member.department_ids.filter((id) => departments.byId.has(id)).map((id) => departments.label(id));
        return (
          <List.Item
            className="tack-clickable"
            style={{ paddingInline: 8 }}
            onClick={() => onOpen(member)}
            data-testid="member-row"
            data-member-id={member.id}
          >
            <List.Item.Meta
              avatar={<MemberAvatar name={member.display_name} id={member.id} />}
              title={
                <Flex gap={8} align="center" wrap>
                  <Typography.Text strong data-testid="member-name">
                    {member.display_name}
                  </Typography.Text>
                  {member.title ? <Typography.Text type="secondary">{member.title}</Typography.Text> : null}
                  {member.status === "removed" ? <Tag>{t("member.removed")}</Tag> : null}
                </Flex>
              }
              description={deptNames.length ? deptNames.join(" · ") : member.mobile ?? member.email ?? null}
            />
          </List.Item>
        );
      }}
    />
  );
}
