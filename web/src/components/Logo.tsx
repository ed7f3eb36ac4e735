import { Flex, Typography } from "antd";
import { Link } from "react-router-dom";

export function Logo({ dark = false }: { dark?: boolean }) {
  return (
    <Link to="/" style={{ textDecoration: "none" }} aria-label="Tack">
      <Flex align="center" gap={8} style={{ flexShrink: 0 }}>
        <svg width="28" height="28" viewBox="0 0 32 32" aria-hidden="true">
          <rect width="32" height="32" rx="7" fill="#1677ff" />
          <path d="M9 10h14v3h-5.5v11h-3V13H9z" fill="#fff" />
        </svg>
        <Typography.Text strong className="tack-logo-text" style={{ fontSize: 18, whiteSpace: "nowrap", color: dark ? "#fff" : undefined }}>
          Tack
        </Typography.Text>
      </Flex>
    </Link>
  );
}
