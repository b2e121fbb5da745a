CREATE SEQUENCE "public"."log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "chat_members" (
	"chat_id" bigint NOT NULL,
	"user_id" bigint NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"joined_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"joined_event_id" bigint NOT NULL,
	"last_read_message_id" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "chat_members_chat_id_user_id_pk" PRIMARY KEY("chat_id","user_id"),
	CONSTRAINT "chat_members_role" CHECK ("chat_members"."role" IN ('owner', 'member'))
);
--> statement-breakpoint
CREATE TABLE "departures" (
	"user_id" bigint NOT NULL,
	"chat_id" bigint NOT NULL,
	"joined_event_id" bigint NOT NULL,
	"left_event_id" bigint NOT NULL,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "departures_user_id_left_event_id_pk" PRIMARY KEY("user_id","left_event_id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint PRIMARY KEY DEFAULT nextval('log_id_seq') NOT NULL,
	"chat_id" bigint NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"message_id" bigint,
	"user_id" bigint,
	"data" jsonb,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_type" CHECK ("events"."type" IN ('message.updated', 'message.deleted', 'chat.read', 'member.added', 'member.removed', 'chat.deleted'))
);
--> statement-breakpoint
CREATE TABLE "message_edits" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "message_edits_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1 CACHE 1),
	"message_id" bigint NOT NULL,
	"text" text NOT NULL,
	"edited_at" timestamp (6) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "users_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1 CACHE 1),
	"username" text NOT NULL,
	"display_name" text NOT NULL,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_username_length" CHECK (char_length("users"."username") BETWEEN 3 AND 50),
	CONSTRAINT "users_display_name_length" CHECK (char_length("users"."display_name") BETWEEN 1 AND 100)
);
--> statement-breakpoint
ALTER TABLE "chats" DROP CONSTRAINT "chats_title_length";--> statement-breakpoint
DROP INDEX "messages_chat_id_id_idx";--> statement-breakpoint
ALTER TABLE "chats" ALTER COLUMN "title" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "id" DROP IDENTITY;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "id" SET DEFAULT nextval('log_id_seq');--> statement-breakpoint
-- Messages are now log entries: the log continues after the largest existing message id.
SELECT setval('log_id_seq', GREATEST((SELECT max("id") FROM "messages"), 1), (SELECT max("id") FROM "messages") IS NOT NULL);--> statement-breakpoint
ALTER TABLE "chats" ADD COLUMN "kind" text DEFAULT 'group' NOT NULL;--> statement-breakpoint
ALTER TABLE "chats" ADD COLUMN "direct_key" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sender_id" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "edited_at" timestamp (6) with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "client_message_id" text;--> statement-breakpoint
ALTER TABLE "chat_members" ADD CONSTRAINT "chat_members_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_members" ADD CONSTRAINT "chat_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_edits" ADD CONSTRAINT "message_edits_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chat_members_user_id_idx" ON "chat_members" USING btree ("user_id","chat_id");--> statement-breakpoint
CREATE UNIQUE INDEX "chat_members_one_owner_idx" ON "chat_members" USING btree ("chat_id") WHERE "chat_members"."role" = 'owner';--> statement-breakpoint
CREATE INDEX "events_chat_id_id_idx" ON "events" USING btree ("chat_id","id");--> statement-breakpoint
CREATE INDEX "events_created_at_idx" ON "events" USING brin ("created_at");--> statement-breakpoint
CREATE INDEX "message_edits_message_id_idx" ON "message_edits" USING btree ("message_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_lower_idx" ON "users" USING btree (lower("username"));--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sender_id_users_id_fk" FOREIGN KEY ("sender_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "chats_direct_key_idx" ON "chats" USING btree ("direct_key");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_client_message_id_idx" ON "messages" USING btree ("chat_id",coalesce("sender_id", 0),"client_message_id") WHERE "messages"."client_message_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_chat_id_id_idx" ON "messages" USING btree ("chat_id","id","sender_id");--> statement-breakpoint
ALTER TABLE "chats" ADD CONSTRAINT "chats_kind" CHECK ("chats"."kind" IN ('group', 'direct'));--> statement-breakpoint
ALTER TABLE "chats" ADD CONSTRAINT "chats_title_length" CHECK (("chats"."kind" = 'group' AND "chats"."title" IS NOT NULL AND char_length("chats"."title") BETWEEN 1 AND 200)
        OR ("chats"."kind" = 'direct' AND "chats"."title" IS NULL AND "chats"."direct_key" IS NOT NULL));--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_client_message_id_length" CHECK (char_length("messages"."client_message_id") BETWEEN 1 AND 100);