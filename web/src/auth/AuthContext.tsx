import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, rememberCsrfToken } from "../api/client";
import { auth } from "../api/endpoints";
import type { Account, SessionInfo, SignUpIn } from "../api/types";

export type AuthStatus = "loading" | "signedIn" | "signedOut" | "unreachable";

interface AuthValue {
  status: AuthStatus;
  account: Account | null;
  signIn: (login: string, password: string) => Promise<SessionInfo>;
  signUp: (body: SignUpIn) => Promise<SessionInfo>;
  signOut: () => Promise<void>;
  /** Forget the session locally (the server said it is gone). */
  markSignedOut: () => void;
  recheck: () => void;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>("loading");
  const [account, setAccount] = useState<Account | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    auth
      .session()
      .then((info) => {
        if (cancelled) return;
        rememberCsrfToken(info.csrf_token);
        setAccount(info.account);
        setStatus("signedIn");
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        setAccount(null);
        const unreachable = error instanceof ApiError && (error.status === 0 || error.status >= 500);
        setStatus(unreachable ? "unreachable" : "signedOut");
      });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const accept = useCallback((info: SessionInfo) => {
    rememberCsrfToken(info.csrf_token);
    setAccount(info.account);
    setStatus("signedIn");
    return info;
  }, []);

  const signIn = useCallback(
    async (login: string, password: string) => accept(await auth.signIn(login, password)),
    [accept],
  );
  const signUp = useCallback(async (body: SignUpIn) => accept(await auth.signUp(body)), [accept]);

  const markSignedOut = useCallback(() => {
    rememberCsrfToken(null);
    setAccount(null);
    setStatus("signedOut");
  }, []);

  const signOut = useCallback(async () => {
    try {
      await auth.signOut();
    } catch (error) {
      // Already signed out on the server is fine; anything else is reported.
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    markSignedOut();
  }, [markSignedOut]);

  const recheck = useCallback(() => {
    setStatus("loading");
    setAttempt((n) => n + 1);
  }, []);

  const value = useMemo<AuthValue>(
    () => ({ status, account, signIn, signUp, signOut, markSignedOut, recheck }),
    [status, account, signIn, signUp, signOut, markSignedOut, recheck],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside AuthProvider");
  return value;
}

/** Only same-site paths are followed after signing in. */
export function safeNext(next: string | null | undefined, fallback = "/"): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return fallback;
  if (next.startsWith("/sign-in") || next.startsWith("/sign-up")) return fallback;
  return next;
}
